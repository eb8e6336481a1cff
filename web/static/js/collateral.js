// What the collateral pages share (console/collateral/*, m/rm/collateral): the facts form of a
// property (the fields the valuer reads), reading it into an API body, and a valuation drawn
// as a credit officer reads it: the value, its range and confidence, the blend of methods and
// the itemised breakdown (community base price × area, then each factor's correction, to the
// comparison value). Words come from the page's own catalogue through `K` (key → text) and
// `L` (value → label), so each surface keeps its strings.
import { badge, el, money } from "/web/static/js/finedge.js";

export const ORIENTATIONS = ["S", "SN", "SE", "SW", "E", "W", "EW", "N"];
export const DECORATIONS = ["rough", "simple", "fine", "luxury"];
export const TYPES = ["apartment", "townhouse", "villa"];
const FACT_FIELDS = ["city", "district", "community", "area_m2", "floor", "total_floors", "build_year", "orientation", "decoration", "rooms", "property_type"];
const NUMBERS = new Set(["floor", "total_floors", "build_year", "rooms"]);

function input(id, attrs) {
  return el("input", { id, name: id, ...attrs });
}

function select(id, values, L) {
  return el("select", { id, name: id, required: true }, values.map((v) => el("option", { value: v }, L(v))));
}

/** The facts fields (id prefix `p`): label + control in a `.filters` form. */
export function factFields(prefix, K, L, { address = false } = {}) {
  const f = (name, control) => el("div", el("label.field", { for: control.id }, K(name)), control);
  const id = (name) => `${prefix}-${name}`;
  return [
    f("city", input(id("city"), { required: true, maxlength: 40, list: `${prefix}-cities` })),
    f("district", input(id("district"), { required: true, maxlength: 60 })),
    f("community", input(id("community"), { required: true, maxlength: 120, list: `${prefix}-communities` })),
    address ? f("address", input(id("address"), { required: true, maxlength: 300 })) : null,
    f("area_m2", input(id("area_m2"), { required: true, inputmode: "decimal", pattern: "[0-9]+(\\.[0-9]{1,2})?" })),
    f("floor", input(id("floor"), { required: true, type: "number", min: -5, max: 200, step: 1 })),
    f("total_floors", input(id("total_floors"), { required: true, type: "number", min: 1, max: 200, step: 1 })),
    f("build_year", input(id("build_year"), { required: true, type: "number", min: 1800, max: 2100, step: 1 })),
    f("orientation", select(id("orientation"), ORIENTATIONS, L)),
    f("decoration", select(id("decoration"), DECORATIONS, L)),
    f("rooms", input(id("rooms"), { required: true, type: "number", min: 1, max: 50, step: 1 })),
    f("property_type", select(id("property_type"), TYPES, L)),
    el("datalist", { id: `${prefix}-cities` }),
    el("datalist", { id: `${prefix}-communities` }),
  ];
}

/** Suggest the cities and communities already known (from a list of properties). */
export function suggest(prefix, properties) {
  const fillList = (id, values) => {
    const list = document.getElementById(id);
    if (!list) return;
    list.replaceChildren(...[...new Set(values)].sort().map((v) => el("option", { value: v })));
  };
  fillList(`${prefix}-cities`, properties.map((p) => p.city));
  fillList(`${prefix}-communities`, properties.map((p) => p.community));
}

/** The facts as an API body: numbers as numbers, the area as the decimal string typed. */
export function readFacts(prefix, { address = false } = {}) {
  const body = {};
  for (const name of address ? [...FACT_FIELDS, "address"] : FACT_FIELDS) {
    const value = document.getElementById(`${prefix}-${name}`).value.trim();
    body[name] = NUMBERS.has(name) ? Number(value) : value;
  }
  return body;
}

/** Put a property's facts into the form (to value it again with a change). */
export function writeFacts(prefix, facts) {
  for (const name of FACT_FIELDS) {
    const field = document.getElementById(`${prefix}-${name}`);
    if (field && facts[name] !== undefined && facts[name] !== null) field.value = String(facts[name]);
  }
}

const pct = (x) => `${(Number(x) * 100).toFixed(0)}%`;
const CONFIDENCE = { high: "ok", medium: "warn", low: "bad" };

/** A valuation (the API's valuation view): value, range, confidence, blend, breakdown table. */
export function valuationView(v, K, L = (x) => x) {
  const b = v.breakdown || {};
  const rows = [
    el("tr", el("th", { scope: "row" }, K("base_price")), el("td.num", money(b.base_price_per_m2)), el("td.num", "—"), el("td.num", "")),
    el("tr", el("th", { scope: "row" }, K("area")), el("td.num", `${b.area_m2 ?? "—"} m²`), el("td.num", "—"), el("td.num", money(b.base_value))),
    ...(b.corrections || []).map((c) =>
      el(
        "tr",
        { dataset: { factor: c.factor } },
        el("th", { scope: "row" }, K(`factor_${c.factor}`)),
        el("td.num", L(c.band ?? "")),
        el("td.num", Number(c.coefficient).toFixed(3)),
        el("td.num", money(c.amount)),
      ),
    ),
    el("tr.total", el("th", { scope: "row" }, K("comparison_value")), el("td.num", ""), el("td.num", ""), el("td.num", money(b.comparison_value))),
  ];
  const blend = Object.entries(v.blend || {})
    .filter(([, w]) => Number(w) > 0)
    .map(([m, w]) => `${L(m)} ${pct(w)}${v.methods?.[m] ? ` (${money(v.methods[m])})` : ""}`)
    .join(" · ");
  return el(
    "div.valuation",
    { dataset: { valuation: String(v.id) } },
    el(
      "div.grid",
      el("div.stat", el("div.muted.small", K("value")), el("strong.big.value", money(v.value))),
      el("div.stat", el("div.muted.small", K("range")), el("div.range", `${money(v.low)} – ${money(v.high)}`)),
      el(
        "div.stat",
        el("div.muted.small", K("confidence")),
        el("div", v.confidence ? badge(K(`confidence_${v.confidence}`), CONFIDENCE[v.confidence] || "") : "", ` σ=${Number(v.confidence_sd).toFixed(3)}`),
      ),
    ),
    el("p.small.blend", el("strong", `${K("blend")}: `), blend || "—"),
    el(
      "div.table-wrap",
      el(
        "table.table.breakdown",
        el("caption", K("breakdown")),
        el("thead", el("tr", el("th", { scope: "col" }, K("factor")), el("th.num", { scope: "col" }, K("band")), el("th.num", { scope: "col" }, K("coefficient")), el("th.num", { scope: "col" }, K("amount")))),
        el("tbody", rows),
      ),
    ),
    (b.notes || []).length ? el("ul.small.muted.notes", b.notes.map((n) => el("li", n))) : null,
    el("p.small.muted", `${K("model")} v${v.model_version ?? v.model_id}`),
  );
}
