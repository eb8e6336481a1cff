// Customer flow statistics of a branch, drawn with ECharts (the vendored classic script, the
// global `echarts`): a day (GET /branches/{b}/flow?day=: arrivals per hour, waits and service
// times by service, counter utilisation) and the week ending that day (the same call for each
// of the seven days: arrivals, served, abandonment, waits).
import { $, act, api, el, fill, start, t } from "/web/static/js/finedge.js";
import { minutes, pickBranch, serviceName } from "/web/static/js/console/hall/branch.js";

let branch = null;
const charts = new Map();
let tab = "day";

const toMin = (s) => (s === null || s === undefined ? null : Math.round((s / 60) * 10) / 10);
const pct = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`);

function isoDay(date) {
  const y = date.getFullYear();
  const m = String(date.getMonth() + 1).padStart(2, "0");
  const d = String(date.getDate()).padStart(2, "0");
  return `${y}-${m}-${d}`;
}

function daysEnding(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return Array.from({ length: n }, (_, i) => isoDay(new Date(y, m - 1, d - (n - 1 - i))));
}

function chart(id, option) {
  const node = document.getElementById(id);
  let c = charts.get(id);
  if (!c) {
    c = echarts.init(node, null, { renderer: "canvas" });
    charts.set(id, c);
  }
  c.setOption({ animation: false, tooltip: { trigger: "axis" }, grid: { left: 48, right: 24, top: 36, bottom: 36 }, ...option }, true);
  return c;
}

function figure(name, value) {
  return el("div.stat", el("div.name", name), el("div.value", value));
}

function drawDay(f) {
  fill(
    "#figures",
    figure(t("console.hall.flow.tickets"), String(f.tickets)),
    figure(t("console.hall.flow.arrivals"), String(f.arrivals)),
    figure(t("console.hall.flow.served"), String(f.served)),
    figure(t("console.hall.flow.wait_p50"), minutes(f.wait_s?.p50)),
    figure(t("console.hall.flow.wait_p90"), minutes(f.wait_s?.p90)),
    figure(t("console.hall.flow.service_p50"), minutes(f.service_s?.p50)),
    figure(t("console.hall.flow.abandon_rate"), pct(f.abandonment?.rate)),
    figure(t("console.hall.flow.off_counter"), pct(f.smart_counters?.off_counter_rate)),
  );
  chart("chart-hours", {
    xAxis: { type: "category", data: f.arrivals_per_hour.map((_, h) => t("console.hall.flow.hour", { h })) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", name: t("console.hall.flow.arrivals"), data: f.arrivals_per_hour, itemStyle: { color: "#1d4ed8" } }],
  });
  const services = Object.entries(f.per_service || {});
  chart("chart-services", {
    legend: { top: 0, right: 0 },
    xAxis: { type: "category", data: services.map(([code]) => serviceName(code)) },
    yAxis: { type: "value", name: t("console.hall.flow.minutes_short") },
    series: [
      { type: "bar", name: t("console.hall.flow.wait_p50"), data: services.map(([, s]) => toMin(s.wait_s?.p50)) },
      { type: "bar", name: t("console.hall.flow.wait_p90"), data: services.map(([, s]) => toMin(s.wait_s?.p90)) },
      { type: "bar", name: t("console.hall.flow.service_p50"), data: services.map(([, s]) => toMin(s.service_s?.p50)) },
    ],
  });
  const counters = f.counters || [];
  chart("chart-counters", {
    xAxis: { type: "category", data: counters.map((c) => c.counter_id) },
    yAxis: { type: "value", max: 100 },
    series: [
      {
        type: "bar",
        name: t("console.hall.flow.utilisation"),
        data: counters.map((c) => (c.utilisation === null || c.utilisation === undefined ? null : Math.round(c.utilisation * 1000) / 10)),
        itemStyle: { color: "#166534" },
      },
    ],
  });
}

function drawWeek(days) {
  const labels = days.map((f) => f.day.slice(5));
  chart("chart-week-flow", {
    legend: { top: 0, right: 0 },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "bar", name: t("console.hall.flow.arrivals"), data: days.map((f) => f.arrivals) },
      { type: "bar", name: t("console.hall.flow.served"), data: days.map((f) => f.served) },
      {
        type: "line",
        name: t("console.hall.flow.no_show"),
        data: days.map((f) => (f.abandonment?.no_show || 0) + (f.abandonment?.left || 0)),
      },
    ],
  });
  chart("chart-week-wait", {
    legend: { top: 0, right: 0 },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", name: t("console.hall.flow.minutes_short") },
    series: [
      { type: "line", name: t("console.hall.flow.wait_p50"), data: days.map((f) => toMin(f.wait_s?.p50)) },
      { type: "line", name: t("console.hall.flow.wait_p90"), data: days.map((f) => toMin(f.wait_s?.p90)) },
      { type: "line", name: t("console.hall.flow.service_p50"), data: days.map((f) => toMin(f.service_s?.p50)) },
    ],
  });
}

const flowOf = (day) => api("GET", `/branches/${branch}/flow`, { query: { day } });

async function render() {
  const day = $("#day").value;
  if (tab === "day") drawDay(await flowOf(day));
  else drawWeek(await Promise.all(daysEnding(day, 7).map(flowOf)));
  $("main").dataset.drawn = tab;
}

function show(which) {
  tab = which;
  for (const name of ["day", "week"]) {
    $(`#tab-${name}`).setAttribute("aria-selected", String(name === which));
    $(`#panel-${name}`).hidden = name !== which;
  }
  delete $("main").dataset.drawn;
  // a chart drawn while hidden has no size: draw once the panel shows
  return render().then(() => charts.forEach((c) => c.resize()));
}

start({ roles: ["teller", "approver", "admin", "rm"] }, async (user) => {
  branch = await pickBranch(user);
  if (!branch) return;
  const today = await flowOf(undefined); // the branch's own local day
  $("#day").value = today.day;
  $("#day").max = today.day;
  drawDay(today);
  $("main").dataset.drawn = "day";
  $("#day").addEventListener("change", () => $("#day").value && act(null, () => show(tab)));
  for (const name of ["day", "week"]) $(`#tab-${name}`).addEventListener("click", () => act(null, () => show(name)));
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
});
