// RM KPI points (GET /marketing/kpis?level=rm|outlet|branch|head_office): per row the points
// and each metric (incremental conversions credited as treated minus control, calls, SMS sent,
// opportunity completion and reach rate), a bar chart of the points (SVG), and a level switch
// for the marketing team. An RM sees their own row only (the API refuses them other levels).
import { all, el, fill, start, t, table } from "/web/static/js/finedge.js";

const K = (name) => t(`console.marketing.kpis.${name}`);
const LEVELS = ["rm", "outlet", "branch", "head_office"];
const METRICS = ["incremental_conversions", "calls", "sms", "opportunity_completion", "reach_rate"];
const RATES = new Set(["opportunity_completion", "reach_rate"]);
const SVG = "http://www.w3.org/2000/svg";
const fmt = (x, d = 1) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "—");

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(rows) {
  const w = 420;
  const bar = 22;
  const h = rows.length * bar + 8;
  const top = Math.max(1, ...rows.map((r) => Math.abs(r.points)));
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": K("chart") });
  root.classList.add("kpi-chart");
  rows.forEach((r, i) => {
    const width = Math.max(1, (Math.abs(r.points) / top) * (w - 170));
    const rect = svg("rect", { x: 110, y: i * bar + 4, width, height: bar - 6, fill: r.points < 0 ? "#c0392b" : "#2e86de" });
    rect.append(svg("title", {}, `${r.name}: ${fmt(r.points)}`));
    root.append(
      svg("text", { x: 104, y: i * bar + bar - 6, "font-size": 11, "text-anchor": "end" }, r.name),
      rect,
      svg("text", { x: 114 + width, y: i * bar + bar - 6, "font-size": 11 }, fmt(r.points)),
    );
  });
  return root;
}

function cell(r, m) {
  const v = r.metrics[m];
  const value = RATES.has(m) ? (v.value === null ? "—" : `${fmt(100 * v.value)}% (${v.numerator}/${v.denominator})`) : fmt(v.value, m === "incremental_conversions" ? 2 : 0);
  return el("span", value, el("span.muted.small", ` · ${fmt(v.points)} ${K("pts")}`));
}

async function show(level) {
  const rows = await all("/marketing/kpis", { level });
  rows.sort((a, b) => b.points - a.points);
  fill(
    "#kpis",
    table(
      [
        { label: K(`level_${level}`), value: (r) => r.name },
        { label: K("points"), class: "num", value: (r) => fmt(r.points) },
        ...METRICS.map((m) => ({ label: K(m), class: "num", value: (r) => cell(r, m) })),
        { label: K("campaigns"), class: "num", value: (r) => String(r.campaigns) },
      ],
      rows,
    ),
  );
  fill("#chart", rows.length ? chart(rows) : "");
}

async function render(user) {
  const team = user.role !== "rm";
  const levels = team ? LEVELS : ["rm"];
  const select = el(
    "select",
    { id: "level", onchange: (e) => show(e.currentTarget.value) },
    levels.map((l) => el("option", { value: l }, K(`level_${l}`))),
  );
  fill("#levels", el("label.field", { for: "level" }, K("level")), select);
  await show(levels[0]);
}

start({ roles: ["marketing", "admin", "rm"] }, render);
