// Device registry: the devices the user may see (GET /devices, filtered by branch, kind and
// state), live state and online changes (device.state), and for admins provisioning: register
// a device (POST /devices) and issue new credentials (POST /devices/{id}/credentials). The
// credentials are shown once (kit.showOnce): never stored, never in a URL.
import { $, act, all, api, confirm, el, label, onLive, start, t, when } from "/web/static/js/finedge.js";
import { options, pager, values } from "/web/static/js/console/admin/kit.js";
import { KINDS, STATES, credentialsOnce, onlineBadge, stateBadge } from "/web/static/js/console/devices/shared.js";

let isAdmin = false;
let list;

async function rotate(button, device) {
  if (!(await confirm(t("console.devices.creds.rotate_confirm", { id: device.device_id })))) return;
  const creds = await act(button, () => api("POST", `/devices/${encodeURIComponent(device.device_id)}/credentials`));
  if (creds) await credentialsOnce(creds);
}

const columns = [
  {
    label: t("console.devices.device_id"),
    value: (d) => el("a", { href: `/console/devices/device?id=${encodeURIComponent(d.device_id)}` }, d.device_id),
  },
  { label: t("console.devices.branch"), value: (d) => d.branch_id },
  { label: t("console.devices.kind"), value: (d) => label(d.device_type, "devices") },
  { label: t("console.devices.model"), value: (d) => d.model || "—" },
  {
    label: t("console.devices.state"),
    value: (d) => el("span", { dataset: { state: d.device_id } }, stateBadge(d.status)),
  },
  {
    label: t("console.devices.online"),
    value: (d) =>
      el(
        "span",
        { dataset: { online: d.device_id } },
        onlineBadge(d.online),
      ),
  },
  { label: t("console.devices.last_seen"), value: (d) => when(d.last_seen) },
  {
    label: t("common.actions"),
    value: (d) =>
      isAdmin && d.status !== "retired"
        ? el("button.btn.small.secondary", { type: "button", onclick: (e) => rotate(e.currentTarget, d) }, t("console.devices.creds.rotate"))
        : "",
  },
];

function filters() {
  return values($("#filters"));
}

async function register(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = values(form);
  body.model = body.model || "";
  const creds = await act(form.querySelector("button[type=submit]"), () => api("POST", "/devices", { body }));
  if (!creds) return;
  form.reset();
  await list.reload();
  await credentialsOnce(creds);
}

start({ roles: ["admin", "teller"] }, async (user) => {
  isAdmin = user.role === "admin";
  const branches = (await all("/branches")).map((b) => [b.code, `${b.code} · ${b.name}`]);
  options("#f-branch", branches);
  options("#f-kind", KINDS.map((k) => [k, label(k, "devices")]));
  options("#f-state", STATES.map((s) => [s, label(s, "devices")]));
  list = pager("#devices", columns, (cursor) => api("GET", "/devices", { query: { ...filters(), cursor, limit: 100 } }));
  $("#filters").addEventListener("change", () => list.reload());
  if (isAdmin) {
    options("#new-branch", branches, { empty: null });
    options("#new-kind", KINDS.map((k) => [k, label(k, "devices")]), { empty: null });
    $("#register-card").hidden = false;
    $("#register-form").addEventListener("submit", register);
  }
  await list.reload();
  await onLive("device.state", (d) => {
    const state = document.querySelector(`[data-state="${CSS.escape(d.device_id)}"]`);
    if (state) state.replaceChildren(stateBadge(d.status));
    const online = document.querySelector(`[data-online="${CSS.escape(d.device_id)}"]`);
    if (online) online.replaceChildren(onlineBadge(d.online));
  });
});
