// The signal feed (GET /risk/signals): newest first, by level (tabs) and filtered by status,
// origin and enterprise, paged with the API's cursor; new signals arrive live (`risk.signal`)
// at the top when they match the filters; the maker's steps (confirm, dismiss, lift) where the
// status allows them. Filters live in the page's URL (?level=&status=&origin=&enterprise_id=).
import { $, $$, act, api, badge, el, fill, label, onLive, start, t, toast } from "/web/static/js/finedge.js";
import { makerButtons, signalColumns } from "/web/static/js/console/risk/shared.js";

const FILTERS = ["level", "status", "origin", "enterprise_id"];
const ACTIVE = new Set(["open", "pending_review", "confirmed"]);
let rows = [];
let fresh = new Set();
let cursor = null;

function filters() {
  const query = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map((name) => [name, query.get(name) || ""]));
}

function showFilters(current) {
  for (const name of FILTERS) $(`#filters [name=${name}]`).value = current[name];
  for (const tab of $$("#level-tabs button")) tab.setAttribute("aria-selected", String(tab.dataset.level === current.level));
}

function setFilters(next) {
  const query = new URLSearchParams();
  for (const name of FILTERS) if (next[name]) query.set(name, next[name]);
  history.replaceState(null, "", `${location.pathname}${query.size ? "?" + query : ""}`);
  return load();
}

function matches(signal, f) {
  if (f.level && signal.level !== f.level) return false;
  if (f.origin && signal.origin !== f.origin) return false;
  if (f.enterprise_id && String(signal.enterprise_id) !== f.enterprise_id) return false;
  if (!f.status) return ACTIVE.has(signal.status);
  return f.status === "all" || f.status === signal.status;
}

function replace(updated) {
  const f = filters();
  rows = rows.map((row) => (row.id === updated.id ? updated : row)).filter((row) => matches(row, f));
  draw();
}

function draw() {
  const columns = signalColumns({ actions: (s) => makerButtons(s, replace) });
  const head = el("thead", el("tr", columns.map((c) => el("th", { scope: "col" }, c.label))));
  const body = el(
    "tbody",
    rows.map((s) =>
      el(
        "tr",
        { dataset: { signal: String(s.id), level: s.level }, class: fresh.has(s.id) ? "risk-new" : null },
        columns.map((c, i) => el("td", c.value(s), i === 0 && fresh.has(s.id) ? [" ", badge(t("console.risk.common.new"), "ok")] : null)),
      ),
    ),
  );
  fill("#signals", rows.length ? el("table.table", { id: "signal-table" }, head, body) : el("p.muted.empty", t("common.empty")));
  fill("#count", t("console.risk.signals.count", { count: rows.length }));
  $("#more").hidden = !cursor;
}

async function page(reset) {
  const f = filters();
  const data = await api("GET", "/risk/signals", { query: { ...f, limit: 50, cursor: reset ? undefined : cursor } });
  rows = reset ? data.items : [...rows, ...data.items.filter((s) => !rows.some((r) => r.id === s.id))];
  cursor = data.next_cursor;
  draw();
}

async function load() {
  showFilters(filters());
  fresh = new Set();
  cursor = null;
  await page(true);
}

function onSignal(payload) {
  const f = filters();
  const { event, ...signal } = payload;
  const known = rows.some((r) => r.id === signal.id);
  if (!matches(signal, f)) {
    if (known) replace(signal);
    return;
  }
  if (known) return replace({ ...rows.find((r) => r.id === signal.id), ...signal });
  rows = [signal, ...rows];
  fresh.add(signal.id);
  draw();
  if (event === "raised" || event === "escalated") {
    toast(t("console.risk.common.new_signal", { name: signal.enterprise_name, level: label(signal.level, "risk") }));
  }
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    act(event.submitter, () => setFilters(Object.fromEntries(FILTERS.map((name) => [name, String(data.get(name) || "").trim()]))));
  });
  for (const tab of $$("#level-tabs button")) {
    tab.addEventListener("click", () => act(tab, () => setFilters({ ...filters(), level: tab.dataset.level })));
  }
  $("#more").addEventListener("click", (event) => act(event.currentTarget, () => page(false)));
  await load();
  await onLive("risk.signal", onSignal);
});
