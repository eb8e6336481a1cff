// One device (?id=): its registry row and state, the twin (desired against reported, the keys
// that differ highlighted; admins change the desired configuration with PATCH
// /devices/{id}/config, a JSON merge patch), open alarms, recent messages and commands. Live:
// device.state of this device redraws it.
import { $, act, api, badge, confirm, el, fill, label, onLive, param, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { options, values } from "/web/static/js/console/admin/kit.js";
import { STATES, onlineBadge, stateBadge } from "/web/static/js/console/devices/shared.js";

const id = param("id") || "";
const path = `/devices/${encodeURIComponent(id)}`;

const show = (value) => (value === undefined ? "—" : JSON.stringify(value));
const compact = (value) => el("code.small", JSON.stringify(value ?? {}));

function twinTable(twin) {
  const keys = [...new Set([...Object.keys(twin.desired || {}), ...Object.keys(twin.reported || {})])].sort();
  if (!keys.length) return el("p.muted", t("common.empty"));
  const rows = keys.map((key) => {
    const desired = twin.desired?.[key];
    const reported = twin.reported?.[key];
    const rejected = twin.rejected?.[key];
    const differs = key in (twin.delta || {}) || JSON.stringify(desired) !== JSON.stringify(reported);
    let state = badge(t("console.devices.twin.same"), "ok");
    if (rejected !== undefined) state = badge(t("console.devices.twin.rejected", { why: String(rejected) }), "bad");
    else if (differs && desired === undefined) state = badge(t("console.devices.twin.reported_only"), "weak");
    else if (differs) state = badge(t("console.devices.twin.pending"), "warn");
    return el(
      "tr",
      { class: differs || rejected !== undefined ? "twin-diff" : "", dataset: { key } },
      el("th", { scope: "row" }, key),
      el("td", el("code", show(desired))),
      el("td", el("code", show(reported))),
      el("td", state),
    );
  });
  return el(
    "table.table.twin",
    el(
      "thead",
      el(
        "tr",
        [t("console.devices.twin.key"), t("console.devices.twin.desired", { v: twin.desired_version }), t("console.devices.twin.reported", { v: twin.reported_version }), t("common.status")].map((h) =>
          el("th", { scope: "col" }, h),
        ),
      ),
    ),
    el("tbody", rows),
  );
}

function drawTwin(twin) {
  fill("#twin-sync", twin.in_sync ? badge(t("console.devices.twin.in_sync"), "ok") : badge(t("console.devices.twin.out_of_sync"), "warn"));
  fill("#twin", twinTable(twin));
}

async function render() {
  const d = await api("GET", path);
  options("#s-status", STATES.map((s) => [s, label(s, "devices")]), { empty: null, selected: d.status });
  fill(
    "#summary",
    [
      [t("console.devices.device_id"), d.device_id],
      [t("console.devices.branch"), d.branch_id],
      [t("console.devices.kind"), label(d.device_type, "devices")],
      [t("console.devices.model"), d.model || "—"],
      [t("console.devices.state"), stateBadge(d.status)],
      [t("console.devices.online"), onlineBadge(d.online)],
      [t("console.devices.last_seen"), when(d.last_seen)],
      [t("console.devices.device.state_doc"), compact(d.state)],
    ].map(([k, v]) => [el("dt", k), el("dd", v)]),
  );
  drawTwin(d.twin);
  fill(
    "#alarms",
    table(
      [
        { label: t("console.devices.alarm.severity"), value: (a) => badge(label(a.severity, "devices"), a.severity === "critical" || a.severity === "major" ? "bad" : "warn") },
        { label: t("console.devices.alarm.rule"), value: (a) => a.rule },
        { label: t("console.devices.alarm.message"), value: (a) => a.message },
        { label: t("console.devices.alarm.raised"), value: (a) => when(a.raised_at) },
        { label: t("common.status"), value: (a) => label(a.status, "devices") },
      ],
      d.alarms || [],
      { empty: t("console.devices.device.no_alarms") },
    ),
  );
}

async function renderHistory() {
  const [messages, commands] = await Promise.all([
    api("GET", `${path}/messages`, { query: { limit: 20 } }),
    api("GET", `${path}/commands`, { query: { limit: 20 } }),
  ]);
  fill(
    "#messages",
    el(
      "div.table-wrap",
      table(
        [
          { label: t("common.time"), value: (m) => when(m.received_at) },
          { label: t("console.devices.message.channel"), value: (m) => m.channel },
          { label: t("console.devices.message.type"), value: (m) => m.type },
          { label: t("console.devices.message.data"), value: (m) => compact(m.data) },
        ],
        messages.items,
      ),
    ),
  );
  fill(
    "#commands",
    el(
      "div.table-wrap",
      table(
        [
          { label: t("common.time"), value: (c) => when(c.created_at) },
          { label: t("console.devices.command.name"), value: (c) => c.name },
          { label: t("common.status"), value: (c) => badge(label(c.status, "devices"), c.status === "ok" ? "ok" : c.status === "pending" || c.status === "sent" ? "weak" : "bad") },
          { label: t("console.devices.command.reason"), value: (c) => c.reason || "—" },
        ],
        commands.items,
      ),
    ),
  );
}

function parseValue(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text; // a bare word is a string
  }
}

async function setDesired(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const v = values(form);
  const value = $("#d-remove").checked ? null : parseValue(v.value ?? "");
  const twin = await act(form.querySelector("button[type=submit]"), () =>
    api("PATCH", `${path}/config`, { body: { desired: { [v.key]: value } } }),
  );
  if (!twin) return;
  toast(t("console.devices.twin.saved"), "ok");
  form.reset();
  drawTwin(twin);
}

async function changeState(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = $("#s-status").value;
  if (status === "retired" && !(await confirm(t("console.devices.device.retire_confirm", { id })))) return;
  const out = await act(form.querySelector("button[type=submit]"), () => api("PATCH", path, { body: { status } }));
  if (!out) return;
  toast(t("console.devices.device.state_changed", { state: label(out.status, "devices") }), "ok");
  await render();
}

start({ roles: ["admin", "teller"] }, async (user) => {
  try {
    await render();
  } catch (error) {
    if (error.status === 404) {
      fill("#main", el("p.notice", t("common.not_found")), el("a", { href: "/console/devices/registry" }, t("console.devices.device.back")));
      return;
    }
    throw error;
  }
  if (user.role === "admin") {
    $("#desired-form").hidden = false;
    $("#desired-form").addEventListener("submit", setDesired);
    $("#status-form").hidden = false;
    $("#status-form").addEventListener("submit", changeState);
  }
  await renderHistory();
  await onLive("device.state", (d) => {
    if (d.device_id === id) render().catch(() => {});
  });
});
