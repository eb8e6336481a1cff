// The marketing client list (GET /marketing/clients): the clients the caller may see (an RM
// their own, the marketing team every one), filtered by name or number, tier, outlet and tag,
// each opening its 360 page.
import { $, act, api, badge, el, fill, label, money, start, t, table } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.marketing.clients.${name}`, params);
const L = (value) => label(value, "marketing");
const TIERS = ["mass", "affluent", "wealth", "private"];
const state = { cursor: null, items: [] };

const columns = [
  { label: K("client_no"), value: (c) => el("a", { href: `/console/marketing/client?id=${c.id}` }, c.client_no) },
  { label: K("name"), value: (c) => c.name },
  { label: K("tier"), value: (c) => badge(L(c.tier), c.tier === "private" || c.tier === "wealth" ? "strong" : "") },
  { label: K("aum"), class: "num", value: (c) => money(c.aum) },
  { label: K("outlet"), value: (c) => c.outlet },
  { label: K("rm"), class: "num", value: (c) => (c.rm_user_id ? `#${c.rm_user_id}` : "—") },
  { label: K("tags"), value: (c) => el("span", ...c.tags.map((tag) => badge(tag))) },
];

async function load(more = false) {
  if (!more) {
    state.items = [];
    state.cursor = null;
  }
  const query = { q: $("#f-q").value.trim(), tier: $("#f-tier").value, outlet: $("#f-outlet").value.trim(), tag: $("#f-tag").value.trim(), limit: 50 };
  if (more) query.cursor = state.cursor;
  const page = await api("GET", "/marketing/clients", { query });
  state.items.push(...page.items);
  state.cursor = page.next_cursor;
  fill("#clients", table(columns, state.items));
  $("#more").hidden = !state.cursor;
}

start({ roles: ["rm", "marketing", "admin"] }, async () => {
  fill("#f-tier", el("option", { value: "" }, t("common.all")), TIERS.map((v) => el("option", { value: v }, L(v))));
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, () => load());
  });
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => load(true)));
  await load();
});
