// The robot factory's dashboard (GET /rpa/dashboard?hours=): runs, items finished per hour,
// success rate per robot, failure reasons, hours of manual work saved, stuck runs and open
// alarms, for the caller's department (an admin: every department). docs/rpa-monitor.md.
import { $, api, badge, el, fill, label, start, t, table, when } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.rpa.dashboard.${name}`, params);
const pct = (x) => (typeof x === "number" ? `${(100 * x).toFixed(1)}%` : "—");

function figure(key, name, value) {
  return el("div.stat", { dataset: { figure: key } }, el("div.name", name), el("div.value", value));
}

function chart(node, option) {
  if (!globalThis.echarts) return;
  const c = echarts.getInstanceByDom(node) || echarts.init(node, null, { renderer: "canvas" });
  c.setOption({ animation: false, tooltip: { trigger: "axis" }, grid: { left: 56, right: 24, top: 32, bottom: 48 }, ...option }, true);
  node.dataset.drawn = "1";
}

function hourLabel(iso) {
  return when(iso, { date: false, time: true });
}

function render(d) {
  const running = d.runs.by_status.running || 0;
  fill(
    "#figures",
    figure("runs", K("runs"), String(d.runs.total)),
    figure("running", K("running"), String(running)),
    figure("done", K("items_done"), String(d.items_per_hour.reduce((n, h) => n + h.done, 0))),
    figure("failed", K("items_failed"), String(d.items_per_hour.reduce((n, h) => n + h.failed, 0))),
    figure("time_saved", K("time_saved"), K("hours_value", { hours: d.time_saved.hours })),
    figure("reviews", K("reviews"), `${d.reviews.open} / ${d.reviews.proposed}`),
    figure("stuck", K("stuck_count"), String(d.stuck_runs.length)),
    figure("alarms", K("alarm_count"), String(d.alarms.length)),
  );
  chart($("#chart-hours"), {
    legend: { top: 0 },
    xAxis: { type: "category", data: d.items_per_hour.map((h) => hourLabel(h.hour)) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "bar", stack: "items", barMaxWidth: 24, name: label("DONE", "rpa"), color: "#2e7d32", data: d.items_per_hour.map((h) => h.done) },
      { type: "bar", stack: "items", barMaxWidth: 24, name: label("FAILED", "rpa"), color: "#c62828", data: d.items_per_hour.map((h) => h.failed) },
    ],
  });
  chart($("#chart-success"), {
    tooltip: { trigger: "axis", valueFormatter: (v) => `${v}%` },
    xAxis: { type: "category", data: d.success.map((s) => s.robot) },
    yAxis: { type: "value", min: 0, max: 100, name: "%" },
    series: [{ type: "bar", barMaxWidth: 48, name: K("success_rate"), data: d.success.map((s) => (s.rate === null ? null : Math.round(1000 * s.rate) / 10)) }],
  });
  const reasons = d.failure_reasons.slice(0, 12);
  chart($("#chart-reasons"), {
    tooltip: { trigger: "item" },
    series: [
      {
        type: "pie",
        radius: ["35%", "65%"],
        data: reasons.map((r) => ({ name: `${r.robot} · ${r.failure_code}`, value: r.count })),
      },
    ],
  });
  fill(
    "#reasons",
    table(
      [
        { label: K("robot"), value: (r) => r.robot },
        { label: K("kind"), value: (r) => badge(label(r.failure_kind, "rpa"), r.failure_kind === "BUSINESS" ? "warn" : "bad") },
        { label: K("code"), value: (r) => r.failure_code },
        { label: K("count"), class: "num", value: (r) => String(r.count) },
      ],
      d.failure_reasons,
      { empty: K("no_failures") },
    ),
  );
  fill(
    "#stuck",
    table(
      [
        { label: K("run"), value: (r) => el("a", { href: `/console/rpa/run?run=${r.run_id}` }, `#${r.run_id}`) },
        { label: K("robot"), value: (r) => r.robot },
        { label: K("last_activity"), value: (r) => when(r.last_activity_at) },
        { label: K("quiet_minutes"), class: "num", value: (r) => String(r.quiet_minutes) },
        { label: K("reasons_col"), value: (r) => r.reasons.map((x) => badge(label(x, "rpa"), "bad")) },
      ],
      d.stuck_runs,
      { empty: K("none_stuck") },
    ),
  );
  fill(
    "#alarms",
    d.alarms.length
      ? d.alarms.map((a) => el("li", { dataset: { kind: a.kind } }, `${when(a.raised_at)} · ${label(a.kind, "rpa")} · ${a.subject}: ${a.message}`))
      : el("li", K("no_alarms")),
  );
}

async function load() {
  render(await api("GET", "/rpa/dashboard", { query: { hours: $("#hours").value } }));
}

start({ roles: ["operator", "admin"] }, async () => {
  $("#hours").addEventListener("change", () => load().catch(() => {}));
  await load();
});
