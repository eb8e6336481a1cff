// The dealer's alerts (GET /floorplan/alerts: open ones, or all), newest first; alerts pushed on
// Socket.IO (`vehicle.alert`) appear at the top at once. Anyone who sees an alert may
// acknowledge it (POST /floorplan/alerts/{id}/acknowledge); the bank resolves it.
import { $, $$, act, api, badge, el, fill, label, onLive, start, t, when } from "/web/static/js/finedge.js";

const SEVERITY_KIND = { weak: "weak", medium: "medium", strong: "strong", hard: "hard" };
const state = { scope: "open", cursor: null, alerts: new Map(), fresh: new Set() };

function detail(a) {
  const bits = [];
  // a car the bank does not finance (found by an audit) has no page
  if (a.vin) bits.push(a.kind === "audit_extra" ? a.vin : el("a", { href: `/m/dealer/car?vin=${encodeURIComponent(a.vin)}` }, a.vin));
  if (a.kind === "aging" && a.data && a.data.days_in_stock !== undefined) {
    bits.push(t("m.dealer.notices.days", { days: a.data.days_in_stock }));
  }
  if (a.bill_id) bits.push(el("a", { href: `/m/dealer/bills?id=${a.bill_id}` }, `${t("m.dealer.car.bill")} #${a.bill_id}`));
  if (a.occurrences > 1) bits.push(t("m.dealer.notices.occurrences", { count: a.occurrences }));
  return bits.flatMap((b, i) => (i ? [" · ", b] : [b]));
}

function item(a) {
  const canAck = a.status === "open";
  return el(
    "li.alert",
    { dataset: { id: a.id, status: a.status, kind: a.kind } },
    el(
      "div.item",
      el(
        "div.row",
        state.fresh.has(a.id) ? badge(t("m.dealer.notices.new"), "ok") : null,
        badge(label(a.severity, "dealer"), SEVERITY_KIND[a.severity]),
        el("strong", label(a.kind, "dealer")),
      ),
      el("div.small", detail(a)),
      el(
        "div.muted.small",
        when(a.last_seen_at),
        " · ",
        label(a.status, "dealer"),
        a.acknowledged_by ? ` · ${t("m.dealer.notices.acknowledged", { user: a.acknowledged_by })}` : "",
      ),
    ),
    canAck
      ? el("button.btn.secondary.small.ack", { type: "button", onclick: (e) => act(e.currentTarget, () => acknowledge(a.id)) }, t("m.dealer.notices.acknowledge"))
      : null,
  );
}

function visible(a) {
  return state.scope === "all" || a.status === "open";
}

function draw() {
  const alerts = [...state.alerts.values()].filter(visible).sort((x, y) => (y.last_seen_at || "").localeCompare(x.last_seen_at || "") || y.id - x.id);
  fill("#alerts", alerts.length ? alerts.map(item) : el("li.muted.empty", t("m.dealer.notices.none")));
  $("#more").hidden = !state.cursor;
}

async function acknowledge(id) {
  const a = await api("POST", `/floorplan/alerts/${id}/acknowledge`);
  state.alerts.set(a.id, a);
  state.fresh.delete(a.id);
  draw();
}

async function load(more = false) {
  if (!more) {
    state.alerts.clear();
    state.cursor = null;
  }
  const page = await api("GET", "/floorplan/alerts", {
    query: { status: state.scope === "open" ? "open" : undefined, limit: 50, cursor: more ? state.cursor : undefined },
  });
  for (const a of page.items) state.alerts.set(a.id, a);
  state.cursor = page.next_cursor;
  draw();
}

function choose(scope) {
  state.scope = scope;
  for (const button of $$(".tabs button")) {
    const on = button.id === `show-${scope}`;
    button.setAttribute("aria-selected", String(on));
  }
  return act(null, () => load());
}

start({ roles: ["dealer"] }, async (user) => {
  $("#show-open").addEventListener("click", () => choose("open"));
  $("#show-all").addEventListener("click", () => choose("all"));
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => load(true)));
  await load();
  await onLive("vehicle.alert", (a) => {
    if (!a || a.dealer_id !== user.org_id) return;
    state.fresh.add(a.id);
    state.alerts.set(a.id, a);
    draw();
  });
});
