// Campaigns for the marketing team (GET /marketing/campaigns): the list by status, each opening
// its page; the draft form (POST /marketing/campaigns) and, once drafted, the power of its test
// (GET .../power) with Launch (POST .../launch: the stratified 3:1 draw, kept for ever).
import { $, act, api, badge, el, fill, label, start, t, table, toast } from "/web/static/js/finedge.js";
import { powerView } from "/web/static/js/marketing_power.js";

const K = (name, params) => t(`console.marketing.campaigns.${name}`, params);
const L = (value) => label(value, "marketing_campaign");
const TARGETS = ["renewal", "aum_growth", "tier_up", "purchase"];
const CHANNELS = ["sms", "miniapp", "call", "visit"];
const state = { cursor: null, items: [], draft: null };

const columns = [
  { label: K("code"), value: (c) => el("a", { href: `/console/marketing/campaign?id=${c.id}` }, c.code) },
  { label: K("name"), value: (c) => c.name },
  { label: K("target"), value: (c) => L(c.target_indicator) },
  { label: K("window"), value: (c) => `${c.starts_on} → ${c.ends_on}` },
  { label: K("channels"), value: (c) => c.channels.map(L).join(" · ") },
  { label: t("common.status"), value: (c) => badge(L(c.status), c.status === "launched" ? "ok" : "") },
];

async function load(more = false) {
  if (!more) {
    state.items = [];
    state.cursor = null;
  }
  const page = await api("GET", "/marketing/campaigns", { query: { status: $("#f-status").value, limit: 50, cursor: more ? state.cursor : undefined } });
  state.items.push(...page.items);
  state.cursor = page.next_cursor;
  fill("#campaigns", table(columns, state.items));
  $("#more").hidden = !state.cursor;
}

async function segments() {
  try {
    const page = await api("GET", "/marketing/segments", { query: { limit: 200 } });
    fill("#d-segments", page.items.map((s) => el("option", { value: String(s.id) }, s.name)));
  } catch {
    // the segments list is a convenience: the id can be typed
  }
}

async function showPower() {
  const report = await api("GET", `/marketing/campaigns/${state.draft.id}/power`);
  $("#power-card").hidden = false;
  fill("#power", el("p", el("strong", `${state.draft.code} · ${state.draft.name}`)), powerView(report));
}

async function draft(event) {
  event.preventDefault();
  const body = {
    code: $("#d-code").value.trim(),
    name: $("#d-name").value.trim(),
    target_indicator: $("#d-target").value,
    segment_id: Number($("#d-segment").value),
    product_code: $("#d-product").value.trim() || null,
    starts_on: $("#d-starts").value,
    ends_on: $("#d-ends").value,
    budget: $("#d-budget").value.trim(),
    cost_per_contact: $("#d-cost").value.trim(),
    control_share: Number($("#d-share").value),
    target_uplift: Number($("#d-uplift").value),
    channels: CHANNELS.filter((c) => $(`#d-ch-${c}`).checked),
    sms_template: $("#d-sms").value,
    script: $("#d-script").value,
  };
  const made = await act(event.submitter, () => api("POST", "/marketing/campaigns", { body }));
  if (made) {
    state.draft = made;
    toast(K("drafted", { code: made.code }), "ok");
    await act(null, showPower);
    await load();
  }
}

async function launch(event) {
  if (!state.draft) return;
  const done = await act(event.currentTarget, () => api("POST", `/marketing/campaigns/${state.draft.id}/launch`));
  if (done) location.assign(`/console/marketing/campaign?id=${done.id}`);
}

start({ roles: ["marketing", "admin"] }, async () => {
  fill("#f-status", el("option", { value: "" }, t("common.all")), ["draft", "launched", "ended"].map((s) => el("option", { value: s }, L(s))));
  fill("#d-target", TARGETS.map((s) => el("option", { value: s }, L(s))));
  fill(
    "#d-channels",
    CHANNELS.map((c) => el("label.row", { for: `d-ch-${c}` }, el("input", { type: "checkbox", id: `d-ch-${c}`, checked: c === "sms" || c === "call" }), L(c))),
  );
  const today = new Date();
  $("#d-starts").value = today.toISOString().slice(0, 10);
  $("#d-ends").value = new Date(today.getTime() + 30 * 86400000).toISOString().slice(0, 10);
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, () => load());
  });
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => load(true)));
  $("#draft").addEventListener("submit", draft);
  $("#launch").addEventListener("click", launch);
  await load();
  await segments();
});
