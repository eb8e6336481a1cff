// Organisations (admin): every org (GET /orgs) with its kind and parent, searched and filtered
// here; create one (POST /orgs: code and kind are fixed once made) and edit its name and
// parent (PATCH /orgs/{id}).
import { $, act, all, api, el, fill, label, start, t, table, toast } from "/web/static/js/finedge.js";
import { field, formDialog, options, values } from "/web/static/js/console/admin/kit.js";

const KINDS = ["bank", "oem", "dealer", "supervisor", "enterprise", "branch"];
let orgs = [];

const byId = (id) => orgs.find((o) => o.id === id);
const orgText = (o) => (o ? `${o.code} · ${o.name}` : "—");
const pairs = (except) => orgs.filter((o) => o.id !== except).map((o) => [o.id, orgText(o)]);

function edit(org) {
  const name = el("input", { required: true, maxlength: 200, value: org.name });
  const parent = options(el("select"), pairs(org.id), { empty: t("console.admin.orgs.no_parent"), selected: org.parent_id ?? "" });
  return formDialog(
    t("console.admin.orgs.edit_title", { code: org.code }),
    [field("e-name", t("console.admin.orgs.name"), name), field("e-parent", t("console.admin.orgs.parent"), parent)],
    async () => {
      const out = await api("PATCH", `/orgs/${org.id}`, { body: { name: name.value.trim(), parent_id: parent.value ? Number(parent.value) : null } });
      toast(t("console.admin.orgs.saved", { code: out.code }), "ok");
      await load();
      return out;
    },
  );
}

function draw() {
  const f = values($("#filters"));
  const text = (f.text || "").toLowerCase();
  const shown = orgs.filter(
    (o) => (!f.kind || o.kind === f.kind) && (!text || o.code.toLowerCase().includes(text) || o.name.toLowerCase().includes(text)),
  );
  fill(
    "#orgs",
    el(
      "div.table-wrap",
      table(
        [
          { label: t("console.admin.orgs.code"), value: (o) => el("strong", o.code) },
          { label: t("console.admin.orgs.name"), value: (o) => o.name },
          { label: t("console.admin.orgs.kind"), value: (o) => label(o.kind, "admin") },
          { label: t("console.admin.orgs.parent"), value: (o) => orgText(byId(o.parent_id)) },
          {
            label: t("common.actions"),
            value: (o) => el("button.btn.small.secondary", { type: "button", onclick: () => edit(o) }, t("console.admin.orgs.edit")),
          },
        ],
        shown,
      ),
    ),
  );
}

async function load() {
  orgs = await all("/orgs");
  options("#o-parent", pairs(), { empty: t("console.admin.orgs.no_parent") });
  draw();
}

async function create(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const v = values(form);
  const body = { code: v.code, name: v.name, kind: v.kind, parent_id: v.parent_id ? Number(v.parent_id) : null };
  const org = await act(form.querySelector("button[type=submit]"), () => api("POST", "/orgs", { body }));
  if (!org) return;
  form.reset();
  toast(t("console.admin.orgs.created", { code: org.code }), "ok");
  await load();
}

start({ roles: ["admin"] }, async () => {
  const kinds = KINDS.map((k) => [k, label(k, "admin")]);
  options("#o-kind", kinds, { empty: null });
  options("#f-kind", kinds);
  $("#filters").addEventListener("input", draw);
  $("#filters").addEventListener("submit", (e) => e.preventDefault());
  $("#org-form").addEventListener("submit", create);
  await load();
});
