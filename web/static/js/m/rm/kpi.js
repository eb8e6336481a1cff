// The RM's own KPI points (GET /marketing/kpis?level=rm: the API gives an RM their own row
// only): total points, incremental conversions credited (treated minus control) and the
// activity counted (calls, SMS sent, opportunity completion, reach rate).
import { all, el, fill, start, t } from "/web/static/js/finedge.js";

const K = (name) => t(`m.rm.kpi.${name}`);
const METRICS = ["incremental_conversions", "calls", "sms", "opportunity_completion", "reach_rate"];
const RATES = new Set(["opportunity_completion", "reach_rate"]);
const fmt = (x, d = 1) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "—");

function stat(key, name, value, extra) {
  return el("div.stat", { dataset: { figure: key } }, el("div.name", name), el("div.value", value), extra ? el("div.muted.small", extra) : null);
}

async function render() {
  const rows = await all("/marketing/kpis", { level: "rm" });
  const mine = rows[0];
  if (!mine) {
    fill("#kpi", el("p.muted.empty", K("none")));
    return;
  }
  fill(
    "#kpi",
    el("div.grid", stat("points", K("points"), fmt(mine.points), `${mine.campaigns} ${K("campaigns")}`)),
    el(
      "div.grid",
      METRICS.map((m) => {
        const v = mine.metrics[m];
        const value = RATES.has(m) ? (v.value === null ? "—" : `${fmt(100 * v.value)}%`) : fmt(v.value, m === "incremental_conversions" ? 2 : 0);
        return stat(m, K(m), value, `${fmt(v.points)} ${K("pts")}`);
      }),
    ),
  );
}

start({ roles: ["rm"] }, render);
