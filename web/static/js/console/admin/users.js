// Users (admin): search by username prefix and filter by role, org and active (GET
// /admin/users); create a user (POST /admin/users) with an initial password the admin types or
// has generated here, shown once; change role, org and branch (PATCH), disable and enable,
// unlock after failed logins, reset the password (also shown once when generated).
import { $, act, all, api, badge, confirm, el, label, start, t, toast, when } from "/web/static/js/finedge.js";
import { field, formDialog, options, pager, randomPassword, showOnce, values } from "/web/static/js/console/admin/kit.js";

const ROLES = ["admin", "rm", "approver", "teller", "loader", "oem", "dealer", "supervisor", "client"];
let orgs = new Map();
let branches = [];
let list;

const orgName = (id) => (orgs.has(id) ? `${orgs.get(id).code} · ${orgs.get(id).name}` : String(id));
const orgPairs = () => [...orgs.values()].map((o) => [o.id, `${o.code} · ${o.name}`]);
const branchPairs = () => branches.map((b) => [b.code, `${b.code} · ${b.name}`]);

function passwordOnce(username, password) {
  return showOnce(
    {
      title: t("console.admin.password.title", { username }),
      warning: t("console.admin.password.warning"),
      copy: t("console.admin.password.copy"),
      copied: t("console.admin.password.copied"),
      close: t("console.admin.password.close"),
    },
    [[t("console.admin.users.initial_password"), password, "password"]],
  );
}

async function refreshRow(user) {
  await list.reload();
  return user;
}

function edit(user) {
  const role = options(el("select", { required: true }), ROLES.map((r) => [r, label(r, "role")]), { empty: null, selected: user.role });
  const org = options(el("select", { required: true }), orgPairs(), { empty: null, selected: user.org_id });
  const branch = options(el("select"), branchPairs(), { empty: t("console.admin.users.no_branch"), selected: user.branch_id ?? "" });
  return formDialog(
    t("console.admin.users.edit_title", { username: user.username }),
    [field("e-role", t("console.admin.users.role"), role), field("e-org", t("console.admin.users.org"), org), field("e-branch", t("console.admin.users.branch"), branch)],
    async () => {
      const body = { role: role.value, org_id: Number(org.value), branch_id: branch.value || null };
      const out = await api("PATCH", `/admin/users/${user.id}`, { body });
      toast(t("console.admin.users.saved", { username: out.username }), "ok");
      return refreshRow(out);
    },
  );
}

async function simple(button, user, action, question) {
  if (question && !(await confirm(question))) return;
  const out = await act(button, () => api("POST", `/admin/users/${user.id}/${action}`));
  if (out) {
    toast(t(`console.admin.users.done_${action.replace("-", "_")}`, { username: out.username }), "ok");
    await refreshRow(out);
  }
}

async function resetPassword(user) {
  const input = el("input", { type: "text", required: true, minlength: 8, maxlength: 200, autocomplete: "off", value: randomPassword() });
  let chosen;
  const out = await formDialog(
    t("console.admin.users.reset_title", { username: user.username }),
    [field("r-password", t("console.admin.users.new_password"), input), el("p.muted.small", t("console.admin.users.reset_hint"))],
    async () => {
      chosen = input.value;
      return api("POST", `/admin/users/${user.id}/reset-password`, { body: { password: chosen } });
    },
  );
  if (out) await passwordOnce(out.username, chosen);
}

function actionsOf(user) {
  const b = (text, onclick, kind = "secondary") => el(`button.btn.small.${kind}`, { type: "button", onclick }, text);
  return el(
    "div.row",
    b(t("console.admin.users.edit"), () => edit(user)),
    user.active
      ? b(t("console.admin.users.disable"), (e) => simple(e.currentTarget, user, "disable", t("console.admin.users.disable_confirm", { username: user.username })), "danger")
      : b(t("console.admin.users.enable"), (e) => simple(e.currentTarget, user, "enable")),
    user.locked_until ? b(t("console.admin.users.unlock"), (e) => simple(e.currentTarget, user, "unlock")) : null,
    b(t("console.admin.users.reset"), () => resetPassword(user)),
  );
}

const columns = [
  { label: t("console.admin.users.username"), value: (u) => el("strong", u.username) },
  { label: t("console.admin.users.role"), value: (u) => label(u.role, "role") },
  { label: t("console.admin.users.org"), value: (u) => orgName(u.org_id) },
  { label: t("console.admin.users.branch"), value: (u) => u.branch_id || "—" },
  {
    label: t("common.status"),
    value: (u) => [
      u.active ? badge(t("console.admin.users.is_active"), "ok") : badge(t("console.admin.users.is_disabled"), "bad"),
      u.locked_until ? [" ", badge(t("console.admin.users.locked", { until: when(u.locked_until) }), "warn")] : null,
    ],
  },
  { label: t("console.admin.users.created"), value: (u) => when(u.created_at) },
  { label: t("common.actions"), value: actionsOf },
];

async function create(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const v = values(form);
  const generated = !v.password;
  const password = v.password || randomPassword();
  const body = { username: v.username, password, role: v.role, org_id: Number(v.org_id), branch_id: v.branch_id || null };
  const user = await act(form.querySelector("button[type=submit]"), () => api("POST", "/admin/users", { body }));
  if (!user) return;
  form.reset();
  toast(t("console.admin.users.created_toast", { username: user.username }), "ok");
  await list.reload();
  if (generated) await passwordOnce(user.username, password);
}

start({ roles: ["admin"] }, async () => {
  const [orgList, branchList] = await Promise.all([all("/orgs"), all("/branches")]);
  orgs = new Map(orgList.map((o) => [o.id, o]));
  branches = branchList;
  const rolePairs = ROLES.map((r) => [r, label(r, "role")]);
  options("#f-role", rolePairs);
  options("#f-org", orgPairs());
  options("#f-active", [
    ["true", t("console.admin.users.is_active")],
    ["false", t("console.admin.users.is_disabled")],
  ]);
  options("#u-role", rolePairs, { empty: null });
  options("#u-org", orgPairs(), { empty: null });
  options("#u-branch", branchPairs(), { empty: t("console.admin.users.no_branch") });
  list = pager("#users", columns, (cursor) => api("GET", "/admin/users", { query: { ...values($("#filters")), cursor, limit: 50 } }));
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, () => list.reload());
  });
  $("#filters").addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT") list.reload();
  });
  $("#user-form").addEventListener("submit", create);
  await list.reload();
});
