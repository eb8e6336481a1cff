// The RM's collateral on the phone: their own clients' properties (GET /collateral/properties),
// each with its latest value and a one-tap "Value" (POST /collateral/valuations
// {property_id}) that shows the value, range, confidence and the itemised breakdown; and an
// ad-hoc valuation of any home from its facts (POST /collateral/valuations).
import { $, act, api, el, fill, label, money, start, t, toast, when } from "/web/static/js/finedge.js";
import { factFields, readFacts, suggest, valuationView, writeFacts } from "/web/static/js/collateral.js";

const K = (name, params) => t(`m.rm.collateral.${name}`, params);
const L = (value) => label(value, "rm_collateral");
let items = [];
let cursor = null;

function show(v) {
  fill("#result", valuationView(v, K, L));
  $("#result-card").hidden = false;
  $("#result-card").scrollIntoView({ block: "start" });
}

async function valueNow(button, p) {
  const v = await act(button, () => api("POST", "/collateral/valuations", { body: { property_id: p.id } }));
  if (!v) return;
  toast(`${K("value")}: ${money(v.value)}`, "ok");
  items = items.map((i) => (i.id === p.id ? { ...i, latest_value: v.value, latest_valued_at: v.created_at } : i));
  draw();
  show(v);
}

function item(p) {
  return el(
    "li.card",
    { dataset: { property: String(p.id) } },
    el("strong", `${p.community} · ${p.owner_name}`),
    el("div.small.muted", `${p.city} ${p.district} · ${p.area_m2} m² · ${p.floor}/${p.total_floors} · ${p.build_year}`),
    el("div.row.between", el("span.latest", p.latest_value ? `${money(p.latest_value)} · ${when(p.latest_valued_at)}` : K("not_valued")),
      el("div.row",
        el("button.btn.small.secondary", { type: "button", onclick: () => { writeFacts("v", p); $("#adhoc").open = true; $("#adhoc").scrollIntoView(); } }, K("edit_facts")),
        el("button.btn.small.primary.value-now", { type: "button", onclick: (e) => valueNow(e.currentTarget, p) }, K("value_now")))),
  );
}

function draw() {
  fill("#properties", items.length ? items.map(item) : el("li.muted", K("empty")));
  $("#more").hidden = !cursor;
}

async function page(reset) {
  const data = await api("GET", "/collateral/properties", { query: { status: "active", community: $("#f-community").value.trim(), limit: 30, cursor: reset ? undefined : cursor } });
  cursor = data.next_cursor;
  items = reset ? data.items : [...items, ...data.items];
  draw();
  suggest("v", items);
}

start({ roles: ["rm"] }, async () => {
  fill("#v-facts", factFields("v", K, L));
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, () => page(true));
  });
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => page(false)));
  $("#valuation-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, async () => show(await api("POST", "/collateral/valuations", { body: readFacts("v") })));
  });
  await page(true);
});
