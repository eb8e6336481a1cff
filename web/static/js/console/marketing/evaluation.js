// A campaign's results against its control group (GET /marketing/campaigns/{id}/evaluation):
// the uplift with its 95% interval, the Qini curve as an SVG chart against random targeting,
// uplift at k, AUM growth against control and tier-up per arm, and the same per tier.
// `renderEvaluation(target, evaluation)` draws into any element (the campaign page imports
// it); opened as the page /console/marketing/evaluation?campaign=ID it loads and draws itself.
// An RM sees the figures over their own clients only (scope own_clients), said on the page.
import { api, badge, el, fill, money, param, PAGE, start, t, table } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.marketing.evaluation.${name}`, params);
const SVG = "http://www.w3.org/2000/svg";
const pct = (x, d = 1) => (typeof x === "number" && Number.isFinite(x) ? `${(100 * x).toFixed(d)}%` : "—");
const num = (x, d = 3) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "—");
const interval = (u) => (u && u.uplift !== null ? `${pct(u.uplift, 2)} [${pct(u.low, 2)}, ${pct(u.high, 2)}]` : "—");

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function stat(key, name, value, extra) {
  return el("div.stat", { dataset: { figure: key } }, el("div.name", name), el("div.value", value), extra ? el("div.muted.small", extra) : null);
}

/** The Qini curve (model) and the random-targeting line as an SVG line chart. */
export function qiniChart(qini) {
  const w = 420;
  const h = 220;
  const pad = 34;
  const ys = [...qini.qini, ...qini.random, 0];
  const lo = Math.min(...ys);
  const hi = Math.max(...ys, lo + 1e-9);
  const X = (x) => pad + x * (w - pad - 8);
  const Y = (y) => h - pad - ((y - lo) / (hi - lo)) * (h - pad - 10);
  const path = (values) => values.map((v, i) => `${i ? "L" : "M"}${X(qini.x[i]).toFixed(1)},${Y(v).toFixed(1)}`).join(" ");
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": K("qini_chart") });
  root.classList.add("qini");
  root.append(
    svg("line", { x1: X(0), y1: Y(0), x2: X(1), y2: Y(0), stroke: "#999", "stroke-width": 1 }),
    svg("line", { x1: X(0), y1: Y(lo), x2: X(0), y2: Y(hi), stroke: "#999", "stroke-width": 1 }),
    svg("path", { d: path(qini.random), fill: "none", stroke: "#999", "stroke-dasharray": "4 3", "stroke-width": 1.5 }),
    svg("path", { d: path(qini.qini), fill: "none", stroke: "#2e86de", "stroke-width": 2, "data-series": "model" }),
    svg("text", { x: X(1) - 2, y: h - 8, "font-size": 10, "text-anchor": "end" }, K("targeted")),
    svg("text", { x: 4, y: 12, "font-size": 10 }, K("incremental")),
    svg("text", { x: X(0.02), y: Y(hi) + 12, "font-size": 10, fill: "#2e86de" }, K("model_curve")),
    svg("text", { x: X(0.6), y: Y(qini.random[60]) + 14, "font-size": 10, fill: "#777" }, K("random_line")),
  );
  for (const x of [0, 0.25, 0.5, 0.75, 1]) root.append(svg("text", { x: X(x), y: h - pad + 14, "font-size": 9, "text-anchor": "middle" }, `${x * 100}%`));
  return root;
}

function arms(e) {
  return table(
    [
      { label: K("arm"), value: (r) => r.label },
      { label: K("clients"), class: "num", value: (r) => String(r.a.n) },
      { label: K("conversions"), class: "num", value: (r) => String(r.a.conversions) },
      { label: K("rate"), class: "num", value: (r) => pct(r.a.rate, 2) },
    ],
    [
      { label: K("treatment"), a: e.arms.treatment },
      { label: K("control"), a: e.arms.control },
    ],
  );
}

/** Draw an evaluation (the API's JSON) into `target`. */
export function renderEvaluation(target, e) {
  const significant = e.uplift.low !== null && (e.uplift.low > 0 || e.uplift.high < 0);
  const tu = e.tier_up;
  const g = e.aum_growth;
  const parts = [
    e.scope === "own_clients" ? el("p.notice", K("own_clients")) : null,
    el(
      "div.grid",
      stat("uplift", K("uplift"), interval(e.uplift), significant ? K("significant") : K("not_significant")),
      stat("treatment_rate", K("treatment_rate"), pct(e.arms.treatment.rate, 2), `n = ${e.arms.treatment.n}`),
      stat("control_rate", K("control_rate"), pct(e.arms.control.rate, 2), `n = ${e.arms.control.n}`),
      stat("aum_growth", K("aum_growth_diff"), interval({ uplift: g.mean_growth_difference.difference, low: g.mean_growth_difference.low, high: g.mean_growth_difference.high })),
      stat("tier_up_ratio", K("tier_up_ratio"), tu.ratio.ratio === null ? "—" : `${num(tu.ratio.ratio, 2)}×`, `${pct(tu.treatment.rate, 2)} / ${pct(tu.control.rate, 2)}`),
    ),
    el("h3", K("arms")),
    el("div.table-wrap", arms(e)),
    el("h3", K("qini")),
  ];
  if (e.qini) {
    parts.push(
      el("div.qini-chart", qiniChart(e.qini)),
      el("p.muted.small", K("auuc_line", { auuc: num(e.qini.auuc, 4), random: num(e.qini.random_auuc, 4), ratio: num(e.qini.auuc_ratio, 2) })),
      el(
        "div.table-wrap",
        table(
          [
            { label: K("top_k"), value: (u) => pct(u.k, 0) },
            { label: K("clients"), class: "num", value: (u) => String(u.n) },
            { label: K("uplift"), class: "num", value: (u) => interval(u) },
          ],
          e.uplift_at_k,
        ),
      ),
    );
  } else {
    parts.push(el("p.muted", K("no_scores")));
  }
  parts.push(
    el("h3", K("aum_growth")),
    el(
      "div.table-wrap",
      table(
        [
          { label: K("arm"), value: (r) => r.label },
          { label: K("clients"), class: "num", value: (r) => String(r.a.n) },
          { label: K("aum_before"), class: "num", value: (r) => money(r.a.aum_before) },
          { label: K("aum_now"), class: "num", value: (r) => money(r.a.aum_now) },
          { label: K("growth"), class: "num", value: (r) => pct(r.a.growth, 2) },
        ],
        [
          { label: K("treatment"), a: g.treatment },
          { label: K("control"), a: g.control },
        ],
      ),
    ),
    el("h3", K("tier_up")),
    el(
      "div.table-wrap",
      table(
        [
          { label: K("arm"), value: (r) => r.label },
          { label: K("clients"), class: "num", value: (r) => String(r.a.n) },
          { label: K("tier_ups"), class: "num", value: (r) => String(r.a.tier_ups) },
          { label: K("rate"), class: "num", value: (r) => pct(r.a.rate, 2) },
        ],
        [
          { label: K("treatment"), a: tu.treatment },
          { label: K("control"), a: tu.control },
        ],
      ),
    ),
    el("h3", K("by_tier")),
    el(
      "div.table-wrap",
      table(
        [
          { label: K("tier"), value: (r) => badge(r.tier) },
          { label: K("treatment_rate"), class: "num", value: (r) => `${pct(r.arms.treatment.rate, 2)} (${r.arms.treatment.n})` },
          { label: K("control_rate"), class: "num", value: (r) => `${pct(r.arms.control.rate, 2)} (${r.arms.control.n})` },
          { label: K("uplift"), class: "num", value: (r) => interval(r.uplift) },
        ],
        e.by_tier,
      ),
    ),
  );
  fill(target, ...parts);
}

async function page() {
  const id = Number(param("campaign"));
  if (!Number.isSafeInteger(id) || id < 1) {
    fill("#evaluation", el("p.notice", K("no_campaign")));
    return;
  }
  const e = await api("GET", `/marketing/campaigns/${id}/evaluation`);
  fill("#campaign-title", `${e.code} · ${K("target")}: ${e.target_indicator}`);
  renderEvaluation(document.getElementById("evaluation"), e);
}

// the page's own script only on its page: the campaign page imports renderEvaluation alone
if (PAGE.surface === "console" && PAGE.path === "marketing/evaluation") start({ roles: ["marketing", "admin", "rm"] }, page);
