// Collateral monitoring for bank staff: the quarterly IAAO ratio studies of the champion on new
// market sales (GET /collateral/ratio-studies) as a chart of median ratio and COD per quarter,
// with their alarms; the LTV distribution of the credits the caller may see
// (GET /collateral/ltv/distribution) and the credits over their product's thresholds with their
// RM (GET /collateral/ltv?over=true); the revaluation runs with their progress
// (GET /collateral/revaluations) and, for approvers and admins, "Revalue the book"
// (POST /collateral/revaluations: the whole book valued again in the request, then every LTV).
import { $, act, api, badge, el, fill, label, money, start, t, table, toast, when } from "/web/static/js/finedge.js";

const K = (name) => t(`console.collateral.monitoring.${name}`);
const LEVEL_KIND = { ok: "ok", warn: "warn", alarm: "bad", block: "bad" };
const pct = (bp) => (bp === null || bp === undefined ? "—" : `${(bp / 100).toFixed(2)}%`);
const num = (x, digits = 3) => (typeof x === "number" ? x.toFixed(digits) : "—");

function figure(name, value, cls = "") {
  return el(`div.stat${cls}`, el("div.name", name), el("div.value", value));
}

function chart(node, option) {
  if (!globalThis.echarts) return;
  const c = echarts.getInstanceByDom(node) || echarts.init(node, null, { renderer: "canvas" });
  c.setOption({ animation: false, tooltip: { trigger: "axis" }, grid: { left: 56, right: 56, top: 32, bottom: 36 }, ...option }, true);
}

async function loadStudies() {
  const page = await api("GET", "/collateral/ratio-studies", { query: { limit: 40 } });
  const rows = [...page.items].sort((a, b) => (a.quarter < b.quarter ? -1 : a.quarter > b.quarter ? 1 : a.model_id - b.model_id));
  chart($("#chart-studies"), {
    legend: { top: 0 },
    xAxis: { type: "category", data: rows.map((r) => `${r.quarter} v${r.model_version ?? r.model_id}`) },
    yAxis: [
      { type: "value", name: K("median_ratio"), min: 0.6, max: 1.4 },
      { type: "value", name: "COD", min: 0 },
    ],
    series: [
      { type: "line", name: K("median_ratio"), data: rows.map((r) => r.metrics.median_ratio ?? null) },
      { type: "bar", name: "COD", yAxisIndex: 1, data: rows.map((r) => r.metrics.cod ?? null) },
    ],
  });
  fill(
    "#studies",
    table(
      [
        { label: K("quarter"), class: "quarter", value: (r) => r.quarter },
        { label: K("model"), class: "num", value: (r) => `v${r.model_version ?? "?"}` },
        { label: K("sales"), class: "num", value: (r) => String(r.sales) },
        { label: K("median_ratio"), class: "num", value: (r) => num(r.metrics.median_ratio) },
        { label: "COD", class: "num", value: (r) => num(r.metrics.cod, 1) },
        { label: "PRD", class: "num", value: (r) => num(r.metrics.prd) },
        { label: "PPE10 %", class: "num", value: (r) => num(r.metrics.ppe10, 1) },
        { label: K("alarms"), class: "alarms", value: (r) => (r.alarms.length ? badge(String(r.alarms.length), "bad") : badge("0", "ok")) },
      ],
      [...rows].reverse(),
    ),
  );
  const alarms = rows.flatMap((r) => r.alarms.map((a) => ({ ...a, quarter: r.quarter })));
  fill("#alarms", alarms.length ? alarms.map((a) => el("li", { dataset: { code: a.code } }, `${a.quarter} · ${a.code}: ${a.message}`)) : el("li", K("no_alarms")));
}

async function loadLtv() {
  const [dist, over] = await Promise.all([
    api("GET", "/collateral/ltv/distribution"),
    api("GET", "/collateral/ltv", { query: { over: "true", limit: 200 } }),
  ]);
  fill(
    "#levels",
    figure(K("credits"), String(dist.credits)),
    ["ok", "warn", "alarm", "block"].map((lv) => figure(label(lv, "collateral"), String(dist.levels[lv] ?? 0), `.level-${lv}`)),
  );
  chart($("#chart-ltv"), {
    xAxis: { type: "category", data: dist.buckets.map((b) => (b.to_bp === null ? `≥${b.from_bp / 100}%` : `${b.from_bp / 100}–${b.to_bp / 100}%`)) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", name: K("credits"), data: dist.buckets.map((b) => b.credits) }],
  });
  fill(
    "#over",
    table(
      [
        { label: K("credit"), class: "credit", value: (c) => `${label(c.credit_kind, "collateral")} ${c.credit_ref}` },
        { label: K("property"), value: (c) => c.property_code },
        { label: K("outstanding"), class: "num", value: (c) => money(c.outstanding) },
        { label: K("value"), class: "num", value: (c) => (c.property_value ? money(c.property_value) : "—") },
        { label: "LTV", class: "num ltv", value: (c) => pct(c.ltv_bp) },
        { label: K("level"), class: "level", value: (c) => badge(label(c.ltv_level, "collateral"), LEVEL_KIND[c.ltv_level] || "") },
        { label: K("thresholds"), class: "num", value: (c) => `${pct(c.warn_bp)} / ${pct(c.alarm_bp)} / ${pct(c.block_bp)}` },
        { label: K("rm"), class: "rm", value: (c) => c.rm_username || "—" },
      ],
      over.items,
      { empty: K("none_over") },
    ),
  );
}

async function loadRuns() {
  const page = await api("GET", "/collateral/revaluations", { query: { limit: 20 } });
  fill(
    "#runs",
    table(
      [
        { label: K("run_key"), class: "run-key", value: (r) => r.run_key },
        { label: K("status"), class: "status", value: (r) => badge(label(r.status, "collateral"), r.status === "done" ? "ok" : "warn") },
        { label: K("progress"), class: "num progress", value: (r) => `${r.done} / ${r.total}` },
        { label: K("started"), value: (r) => `${when(r.started_at)} · ${r.started_by}` },
        { label: K("finished"), value: (r) => (r.finished_at ? when(r.finished_at) : "—") },
      ],
      page.items,
    ),
  );
}

async function revalue() {
  const run = await api("POST", "/collateral/revaluations", { body: {}, key: `revalue-${Date.now()}` });
  toast(`${K("revalued")}: ${run.done} / ${run.total}`, "ok");
  await Promise.all([loadRuns(), loadLtv()]);
}

start({ roles: ["rm", "approver", "admin"] }, async (user) => {
  if (user.role === "approver" || user.role === "admin") {
    $("#revalue").hidden = false;
    $("#revalue").addEventListener("click", (e) => act(e.currentTarget, revalue));
  }
  await Promise.all([loadStudies(), loadLtv(), loadRuns()]);
});
