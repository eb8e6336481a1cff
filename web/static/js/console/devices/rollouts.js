// Fleet templates and staged rollouts (admin): templates per device model (GET/POST
// /fleet/templates), rollouts (GET/POST /fleet/rollouts) with their progress (the percentage of
// the model's devices reached so far, each advance a wave) and health per device (GET
// /fleet/rollouts/{id}), and advance, rollback and resume.
import { $, act, all, api, badge, confirm, el, fill, label, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { options, pager, values } from "/web/static/js/console/admin/kit.js";

const STATUSES = ["running", "halted", "completed", "rolled_back"];
const STATUS_BADGE = { running: "weak", halted: "bad", completed: "ok", rolled_back: "warn" };
const HEALTH_BADGE = { in_sync: "ok", pending: "weak", rejected: "bad", rolled_back: "warn", retired: "" };
let rolloutList;
let templates = [];

const templateName = (tpl) => (tpl ? `${tpl.model} · ${tpl.name} v${tpl.version}` : "—");
const statusBadge = (s) => badge(label(s, "devices"), STATUS_BADGE[s]);
const progress = (pct) =>
  el("span.row", el("progress", { max: 100, value: pct, "aria-label": t("console.devices.rollouts.percentage") }), `${pct}%`);

async function loadTemplates() {
  templates = await all("/fleet/templates");
  fill(
    "#templates",
    el(
      "div.table-wrap",
      table(
        [
          { label: "#", value: (x) => String(x.id) },
          { label: t("console.devices.model"), value: (x) => x.model },
          { label: t("console.devices.rollouts.template_name"), value: (x) => `${x.name} v${x.version}` },
          { label: t("console.devices.rollouts.params"), value: (x) => el("code.small", JSON.stringify(x.params)) },
        ],
        templates.slice().reverse(),
      ),
    ),
  );
  options("#ro-template", templates.map((x) => [x.id, templateName(x)]).reverse(), { empty: null });
}

async function openRollout(id) {
  const r = await api("GET", `/fleet/rollouts/${id}`);
  const box = $("#rollout");
  box.hidden = false;
  $("#one-h").textContent = t("console.devices.rollouts.one", { id: r.id, template: templateName(r.template) });
  const actions = [];
  if (r.status === "running") {
    const input = el("input", { id: "adv-pct", type: "number", min: r.percentage + 1, max: 100, value: Math.min(100, r.percentage + 25) });
    actions.push(
      el("label", { for: "adv-pct" }, t("console.devices.rollouts.advance_to")),
      input,
      el("button.btn.primary", { type: "button", id: "advance", onclick: (e) => change(e.currentTarget, r, "advance", { percentage: Number(input.value) }) }, t("console.devices.rollouts.advance")),
    );
  }
  if (r.status === "halted") {
    const exclude = el("input", { type: "checkbox", id: "exclude" });
    actions.push(
      exclude,
      el("label", { for: "exclude" }, t("console.devices.rollouts.exclude_rejecting")),
      el("button.btn.primary", { type: "button", id: "resume", onclick: (e) => change(e.currentTarget, r, "resume", { exclude_rejecting: exclude.checked }) }, t("console.devices.rollouts.resume")),
    );
  }
  if (r.status !== "rolled_back") {
    actions.push(
      el("button.btn.danger", { type: "button", id: "rollback", onclick: (e) => change(e.currentTarget, r, "rollback") }, t("console.devices.rollouts.rollback")),
    );
  }
  const health = Object.entries(r.health || {}).map(([k, n]) => el("div.stat", el("div.name", label(k, "devices")), el("div.value", String(n))));
  fill(
    "#rollout-body",
    el(
      "dl.kv",
      el("dt", t("common.status")),
      el("dd", statusBadge(r.status)),
      el("dt", t("console.devices.rollouts.progress")),
      el("dd", progress(r.percentage)),
      el("dt", t("console.devices.branch")),
      el("dd", r.branch_id || t("console.devices.rollouts.all_branches")),
      el("dt", t("console.devices.rollouts.started")),
      el("dd", when(r.created_at)),
    ),
    el("div.grid", health),
    el("div.row", actions),
    el(
      "div.table-wrap",
      table(
        [
          { label: t("console.devices.device_id"), value: (d) => el("a", { href: `/console/devices/device?id=${encodeURIComponent(d.device_id)}` }, d.device_id) },
          { label: t("common.status"), value: (d) => badge(label(d.state, "devices"), HEALTH_BADGE[d.state]) },
          { label: t("console.devices.rollouts.rejected"), value: (d) => (d.rejected?.length ? d.rejected.join(", ") : "—") },
          { label: t("console.devices.rollouts.applied_version"), value: (d) => String(d.applied_version ?? "—") },
        ],
        r.devices || [],
      ),
    ),
  );
}

async function change(button, r, action, body) {
  if (action === "rollback" && !(await confirm(t("console.devices.rollouts.rollback_confirm", { id: r.id })))) return;
  const out = await act(button, () => api("POST", `/fleet/rollouts/${r.id}/${action}`, { body: body ?? undefined }));
  if (!out) return;
  toast(t("console.devices.rollouts.done", { status: label(out.status, "devices") }), "ok");
  await rolloutList.reload();
  await openRollout(r.id);
}

async function createTemplate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const v = values(form);
  let params;
  try {
    params = JSON.parse(v.params || "{}");
  } catch {
    toast(t("console.devices.rollouts.params_json"), "error");
    return;
  }
  const made = await act(form.querySelector("button[type=submit]"), () =>
    api("POST", "/fleet/templates", { body: { model: v.model, name: v.name, params } }),
  );
  if (!made) return;
  form.reset();
  toast(t("console.devices.rollouts.template_made", { name: templateName(made) }), "ok");
  await loadTemplates();
}

async function startRollout(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const v = values(form);
  const body = { template_id: Number(v.template_id), percentage: Number(v.percentage), branch_id: v.branch_id || null };
  const r = await act(form.querySelector("button[type=submit]"), () => api("POST", "/fleet/rollouts", { body }));
  if (!r) return;
  await rolloutList.reload();
  await openRollout(r.id);
}

start({ roles: ["admin"] }, async () => {
  const branches = await all("/branches");
  options("#ro-branch", branches.map((b) => [b.code, `${b.code} · ${b.name}`]), { empty: t("console.devices.rollouts.all_branches") });
  options("#f-status", STATUSES.map((s) => [s, label(s, "devices")]));
  await loadTemplates();
  rolloutList = pager(
    "#rollouts",
    [
      { label: "#", value: (r) => String(r.id) },
      { label: t("console.devices.rollouts.template"), value: (r) => templateName(r.template) },
      { label: t("console.devices.branch"), value: (r) => r.branch_id || t("console.devices.rollouts.all_branches") },
      { label: t("console.devices.rollouts.progress"), value: (r) => progress(r.percentage) },
      { label: t("common.status"), value: (r) => statusBadge(r.status) },
      { label: t("console.devices.rollouts.started"), value: (r) => when(r.created_at) },
      {
        label: t("common.actions"),
        value: (r) => el("button.btn.small.secondary", { type: "button", onclick: (e) => act(e.currentTarget, () => openRollout(r.id)) }, t("common.details")),
      },
    ],
    (cursor) => api("GET", "/fleet/rollouts", { query: { ...values($("#ro-filters")), cursor } }),
  );
  $("#ro-filters").addEventListener("change", () => rolloutList.reload());
  $("#template-form").addEventListener("submit", createTemplate);
  $("#rollout-form").addEventListener("submit", startRollout);
  await rolloutList.reload();
});
