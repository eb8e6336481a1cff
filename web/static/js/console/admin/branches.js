// Branches (admin): every branch (GET /branches) with its hours and services; create one
// (POST /branches); one branch's name, time zone and opening hours (PATCH /branches/{code}),
// the services it offers (PUT /branches/{code}/services) and its counters with their skills and
// caller device (PUT /branches/{code}/counters/{counter}).
import { $, act, all, api, badge, el, fill, label, start, t, table, toast } from "/web/static/js/finedge.js";
import { field, formDialog, values } from "/web/static/js/console/admin/kit.js";

const SERVICES = ["cash", "account", "loan", "wealth", "corporate"];
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
let current = null;

/** Checkboxes for the services into `box`, `chosen` ticked; `prefix` keeps ids unique. */
function serviceChecks(box, chosen, prefix) {
  const legend = box.querySelector("legend");
  fill(
    box,
    legend,
    SERVICES.map((s) =>
      el(
        "span.check",
        el("input", { type: "checkbox", id: `${prefix}-${s}`, name: "services", value: s, checked: chosen.includes(s) }),
        el("label", { for: `${prefix}-${s}` }, label(s, "admin")),
      ),
    ),
  );
}

const ticked = (box) => [...box.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value);
const spans = (list) => (list || []).map(([a, b]) => `${a}-${b}`).join(", ");

function parseSpans(text) {
  return text
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.split("-").map((x) => x.trim()));
}

function hoursText(hours) {
  if (!hours) return t("console.admin.branches.not_published");
  const open = DAYS.filter((d) => hours[d]?.length).map((d) => `${label(d, "admin")} ${spans(hours[d])}`);
  return open.length ? open.join("; ") : t("console.admin.branches.closed");
}

async function loadList() {
  const branches = await all("/branches");
  fill(
    "#branches",
    el(
      "div.table-wrap",
      table(
        [
          { label: t("console.admin.branches.code"), value: (b) => el("strong", b.code) },
          { label: t("console.admin.branches.name"), value: (b) => b.name },
          {
            label: t("console.admin.branches.open_now"),
            value: (b) => (b.open_now === null ? "—" : b.open_now ? badge(t("common.yes"), "ok") : badge(t("common.no"))),
          },
          { label: t("console.admin.branches.services"), value: (b) => (b.services || []).map((s) => label(s, "admin")).join(", ") },
          {
            label: t("common.actions"),
            value: (b) =>
              el("button.btn.small.secondary", { type: "button", onclick: (e) => act(e.currentTarget, () => open(b.code)) }, t("console.admin.branches.manage")),
          },
        ],
        branches,
      ),
    ),
  );
}

function counterDialog(counter) {
  const id = el("input", { required: true, maxlength: 20, value: counter?.counter_id ?? "", readonly: Boolean(counter) });
  const name = el("input", { required: true, maxlength: 80, value: counter?.name ?? "" });
  const device = el("input", { maxlength: 64, value: counter?.device_id ?? "" });
  const skills = el("fieldset.checks", el("legend", t("console.admin.branches.skills")));
  serviceChecks(skills, counter?.skills ?? [], "c-skill");
  return formDialog(
    counter ? t("console.admin.branches.edit_counter", { id: counter.counter_id }) : t("console.admin.branches.add_counter"),
    [
      field("c-id", t("console.admin.branches.counter_id"), id),
      field("c-name", t("console.admin.branches.counter_name"), name),
      skills,
      field("c-device", t("console.admin.branches.device"), device),
    ],
    async () => {
      const body = { name: name.value.trim(), skills: ticked(skills), device_id: device.value.trim() };
      const out = await api("PUT", `/branches/${current}/counters/${encodeURIComponent(id.value.trim())}`, { body });
      toast(t("console.admin.branches.counter_saved", { id: out.counter_id }), "ok");
      await open(current);
      return out;
    },
  );
}

async function open(code) {
  const b = await api("GET", `/branches/${encodeURIComponent(code)}`);
  current = b.code;
  $("#branch").hidden = false;
  $("#one-h").textContent = t("console.admin.branches.one", { code: b.code, name: b.name });
  const form = $("#edit-form");
  $("#e-name").value = b.name;
  $("#e-tz").value = b.timezone || "";
  $("#e-unpublished").checked = b.opening_hours === null;
  fill(
    "#hours",
    DAYS.map((d) => [
      el("label", { for: `h-${d}` }, label(d, "admin")),
      el("input", { id: `h-${d}`, name: `h-${d}`, value: spans(b.opening_hours?.[d]), placeholder: "09:00-12:00, 13:00-17:00" }),
    ]),
  );
  serviceChecks($("#e-services"), b.services || [], "e-svc");
  fill(
    "#counters",
    el(
      "div.table-wrap",
      table(
        [
          { label: t("console.admin.branches.counter_id"), value: (c) => el("strong", c.counter_id) },
          { label: t("console.admin.branches.counter_name"), value: (c) => c.name },
          { label: t("console.admin.branches.skills"), value: (c) => (c.skills || []).map((s) => label(s, "admin")).join(", ") },
          { label: t("console.admin.branches.device"), value: (c) => c.device_id || "—" },
          { label: t("common.status"), value: (c) => label(c.status, "admin") },
          {
            label: t("common.actions"),
            value: (c) => el("button.btn.small.secondary", { type: "button", onclick: () => counterDialog(c) }, t("console.admin.branches.edit")),
          },
        ],
        b.counters || [],
      ),
    ),
  );
  $("#branch").scrollIntoView({ block: "start" });
}

async function saveBranch(event) {
  event.preventDefault();
  const form = event.currentTarget;
  let hours = null;
  if (!$("#e-unpublished").checked) {
    hours = {};
    for (const d of DAYS) {
      const list = parseSpans(form[`h-${d}`].value);
      if (list.length) hours[d] = list;
    }
  }
  const body = { name: $("#e-name").value.trim(), opening_hours: hours };
  if ($("#e-tz").value.trim()) body.timezone = $("#e-tz").value.trim();
  const out = await act(form.querySelector("button[type=submit]"), () => api("PATCH", `/branches/${current}`, { body }));
  if (!out) return;
  toast(t("console.admin.branches.saved", { code: out.code }), "ok");
  await loadList();
  await open(out.code);
}

async function saveServices(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const services = ticked($("#e-services"));
  const out = await act(form.querySelector("button[type=submit]"), () => api("PUT", `/branches/${current}/services`, { body: { services } }));
  if (!out) return;
  toast(t("console.admin.branches.services_saved"), "ok");
  await loadList();
}

async function create(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const v = values(form);
  const body = { code: v.code, name: v.name };
  if (v.timezone) body.timezone = v.timezone;
  const services = ticked($("#b-services"));
  if (services.length) body.services = services;
  const out = await act(form.querySelector("button[type=submit]"), () => api("POST", "/branches", { body }));
  if (!out) return;
  form.reset();
  toast(t("console.admin.branches.created", { code: out.code }), "ok");
  await loadList();
  await open(out.code);
}

start({ roles: ["admin"] }, async () => {
  serviceChecks($("#b-services"), ["cash"], "b-svc");
  $("#branch-form").addEventListener("submit", create);
  $("#edit-form").addEventListener("submit", saveBranch);
  $("#services-form").addEventListener("submit", saveServices);
  $("#add-counter").addEventListener("click", () => counterDialog(null));
  $("#hours").addEventListener("input", () => ($("#e-unpublished").checked = false));
  await loadList();
});
