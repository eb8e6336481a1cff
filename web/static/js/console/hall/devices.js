// The branch's devices and alarms: every device with its lifecycle and connection
// (GET /devices?branch_id=, live `device.state`), the smart counters by model
// (GET /branches/{b}/fleet), and the alarms (GET /devices/alarms, live `device.alarm`) with
// acknowledge (POST /devices/alarms/{id}/ack, after a confirmation).
import { $, act, all, api, badge, confirm, el, fill, label, onLive, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { keepCurrent, pickBranch } from "/web/static/js/console/hall/branch.js";

const SEVERITY_KIND = { critical: "bad", major: "strong", minor: "medium", warning: "weak" };
const LIFECYCLE_KIND = { active: "ok", maintenance: "warn", retired: "", provisioned: "" };

let branch = null;
const devices = new Map();
const alarms = new Map();

function ruleName(rule) {
  const [base, detail] = String(rule).split(":");
  const name = label(base, "hall_alarm");
  return detail ? `${name} (${detail})` : name;
}

// ---------- devices ----------
function drawDevices() {
  const rows = [...devices.values()].sort((a, b) => a.device_id.localeCompare(b.device_id));
  fill(
    "#devices",
    table(
      [
        { label: t("console.hall.devices.device"), value: (d) => el("code", d.device_id) },
        { label: t("console.hall.devices.kind"), value: (d) => label(d.device_type, "hall_device") },
        { label: t("console.hall.devices.model"), value: (d) => d.model || "—" },
        {
          label: t("console.hall.devices.lifecycle"),
          value: (d) => badge(label(d.status, "hall_device"), LIFECYCLE_KIND[d.status] || ""),
        },
        {
          label: t("console.hall.devices.connection"),
          value: (d) =>
            d.online ? badge(t("console.hall.devices.is_online"), "ok") : badge(t("console.hall.devices.is_offline"), "bad"),
        },
        { label: t("console.hall.devices.last_seen"), value: (d) => when(d.last_seen) },
      ],
      rows,
    ),
  );
  for (const row of document.querySelectorAll("#devices tbody tr")) row.dataset.device = row.querySelector("code").textContent;
}

async function loadFleet() {
  const fleet = await api("GET", `/branches/${branch}/fleet`);
  const models = Object.entries(fleet.models || {});
  fill(
    "#fleet",
    table(
      [
        { label: t("console.hall.devices.model"), value: ([model]) => model },
        { label: t("console.hall.devices.count"), value: ([, m]) => String(m.devices ?? 0), class: "num" },
        { label: t("console.hall.devices.online"), value: ([, m]) => String(m.online ?? 0), class: "num" },
        {
          label: t("console.hall.devices.lifecycle"),
          value: ([, m]) =>
            ["active", "maintenance", "provisioned", "retired"]
              .filter((s) => m[s])
              .map((s) => `${label(s, "hall_device")} ${m[s]}`)
              .join(" · ") || "—",
        },
      ],
      models,
    ),
  );
}

// ---------- alarms ----------
function alarmState(a) {
  return [
    badge(a.active ? t("console.hall.devices.active") : t("console.hall.devices.cleared"), a.active ? "bad" : "ok"),
    " ",
    badge(a.acknowledged ? t("console.hall.devices.acked") : t("console.hall.devices.unacked"), a.acknowledged ? "" : "warn"),
  ];
}

function ackButton(a) {
  if (a.acknowledged) return when(a.acked_at);
  const button = el("button.btn.small.primary", { type: "button", dataset: { ack: String(a.id) } }, t("console.hall.devices.ack"));
  button.addEventListener("click", () =>
    act(button, async () => {
      if (!(await confirm(t("console.hall.devices.confirm_ack", { device: a.device_id, rule: ruleName(a.rule) })))) return;
      const view = await api("POST", `/devices/alarms/${a.id}/ack`);
      putAlarm(view);
      toast(t("console.hall.devices.acked_toast"), "ok");
    }),
  );
  return button;
}

function visible(a) {
  // "open" as the API means it: not both cleared and acknowledged
  return $("#alarms-all").checked || a.active || !a.acknowledged;
}

function drawAlarms() {
  const rows = [...alarms.values()].filter(visible).sort((a, b) => (a.raised_at < b.raised_at ? 1 : -1));
  $("#alarms-count").textContent = String(rows.length);
  fill(
    "#alarms",
    table(
      [
        { label: t("console.hall.devices.raised"), value: (a) => when(a.raised_at) },
        { label: t("console.hall.devices.device"), value: (a) => el("code", a.device_id || "—") },
        { label: t("console.hall.devices.rule"), value: (a) => [el("strong", ruleName(a.rule)), el("div.small.muted", a.message)] },
        {
          label: t("console.hall.devices.severity"),
          value: (a) => badge(label(a.severity, "hall_alarm"), SEVERITY_KIND[a.severity] || ""),
        },
        { label: t("console.hall.devices.state"), value: alarmState },
        { label: t("console.hall.devices.times"), value: (a) => String(a.occurrences ?? 1), class: "num" },
        { label: t("common.actions"), value: ackButton },
      ],
      rows,
      { empty: t("console.hall.devices.no_alarms") },
    ),
  );
  const ids = rows.map((a) => a.id);
  document.querySelectorAll("#alarms tbody tr").forEach((row, i) => (row.dataset.alarm = String(ids[i])));
}

function putAlarm(a) {
  if (a.branch_id !== branch) return;
  alarms.set(a.id, a);
  drawAlarms();
}

async function loadAlarms() {
  const items = await all("/devices/alarms", { branch_id: branch, status: $("#alarms-all").checked ? "all" : "open" }, 500);
  alarms.clear();
  for (const a of items) alarms.set(a.id, a);
  drawAlarms();
}

async function loadDevices() {
  const items = await all("/devices", { branch_id: branch }, 1000);
  devices.clear();
  for (const d of items) devices.set(d.device_id, d);
  drawDevices();
}

async function reload() {
  await Promise.all([loadAlarms(), loadDevices(), loadFleet()]);
}

start({ roles: ["teller", "approver", "admin", "rm"] }, async (user) => {
  branch = await pickBranch(user);
  if (!branch) return;
  $("#alarms-all").addEventListener("change", () => act(null, loadAlarms));
  await onLive("device.alarm", putAlarm);
  await onLive("device.state", (d) => {
    if (d.branch_id !== branch) return;
    const { state: _state, ...row } = d;
    devices.set(d.device_id, { ...devices.get(d.device_id), ...row });
    drawDevices();
  });
  await reload();
  await keepCurrent(user, reload);
});
