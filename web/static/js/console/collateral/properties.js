// The collateral register for bank staff (GET /collateral/properties): the properties the
// caller may see (an RM their own clients', approvers and admins all), filtered by city,
// community and status, each opening its page; and the form that registers a property (POST
// /collateral/properties): the owner (a dealer, an enterprise, or the retail clients' org with
// the person's name), the facts the valuer reads; approvers and admins may name the RM. A
// checker (approver, admin) sees the registrations waiting for one (GET
// /collateral/registrations?status=pending), each opening its property's page.
import { $, act, api, badge, el, fill, label, money, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { factFields, readFacts, suggest } from "/web/static/js/collateral.js";

const K = (name, params) => t(`console.collateral.properties.${name}`, params);
const L = (value) => label(value, "collateral_registry");
const state = { cursor: null, items: [] };

const columns = [
  { label: K("code"), value: (p) => el("a", { href: `/console/collateral/property?id=${p.id}` }, p.code) },
  { label: K("owner"), value: (p) => p.owner_name },
  { label: K("where"), value: (p) => `${p.city} · ${p.district} · ${p.community}` },
  { label: K("area"), class: "num", value: (p) => `${p.area_m2} m²` },
  { label: K("floor"), class: "num", value: (p) => `${p.floor}/${p.total_floors}` },
  { label: K("latest_value"), class: "num", value: (p) => (p.latest_value ? money(p.latest_value) : "—") },
  { label: K("valued_at"), value: (p) => (p.latest_valued_at ? when(p.latest_valued_at) : "—") },
  { label: t("common.status"), value: (p) => badge(L(p.status), p.status === "active" ? "ok" : "") },
];

async function load(more = false) {
  if (!more) {
    state.items = [];
    state.cursor = null;
  }
  const page = await api("GET", "/collateral/properties", {
    query: { city: $("#f-city").value.trim(), community: $("#f-community").value.trim(), status: $("#f-status").value, limit: 50, cursor: more ? state.cursor : undefined },
  });
  state.items.push(...page.items);
  state.cursor = page.next_cursor;
  fill("#properties", table(columns, state.items));
  $("#more").hidden = !state.cursor;
  suggest("p", state.items);
}

async function queue(user) {
  if (!["approver", "admin"].includes(user.role)) return;
  const page = await api("GET", "/collateral/registrations", { query: { status: "pending", limit: 100 } });
  const waiting = page.items.filter((r) => r.maker_user_id !== user.id);
  $("#queue-card").hidden = false;
  fill(
    "#queue",
    table(
      [
        { label: K("certificate_no"), value: (r) => el("a", { href: `/console/collateral/property?id=${r.property_id}` }, r.certificate_no) },
        { label: K("registered_on"), value: (r) => r.registered_on },
        { label: K("maker"), class: "num", value: (r) => `#${r.maker_user_id}` },
        { label: K("recorded_at"), value: (r) => when(r.created_at) },
      ],
      waiting,
    ),
  );
}

async function register(event) {
  event.preventDefault();
  const body = { ...readFacts("p", { address: true }), owner_org_id: Number($("#p-owner").value) };
  if ($("#p-owner_name").value.trim()) body.owner_name = $("#p-owner_name").value.trim();
  if (!$("#p-rm-field").hidden && $("#p-rm").value) body.rm_user_id = Number($("#p-rm").value);
  const made = await act(event.submitter, () => api("POST", "/collateral/properties", { body }));
  if (made) {
    toast(K("registered", { code: made.code }), "ok");
    location.assign(`/console/collateral/property?id=${made.id}`);
  }
}

start({ roles: ["rm", "approver", "admin"] }, async (user) => {
  fill("#f-status", el("option", { value: "" }, t("common.all")), ["active", "released"].map((s) => el("option", { value: s }, L(s))));
  fill("#p-facts", factFields("p", K, L, { address: true }));
  $("#p-rm-field").hidden = user.role === "rm";
  const orgs = await api("GET", "/orgs", { query: { limit: 200 } });
  fill(
    "#p-owner",
    orgs.items.filter((o) => !["bank", "branch", "clearinghouse"].includes(o.kind)).map((o) => el("option", { value: String(o.id) }, `${o.code} · ${o.name}`)),
  );
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, () => load());
  });
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => load(true)));
  $("#register").addEventListener("submit", register);
  await load();
  await queue(user);
});
