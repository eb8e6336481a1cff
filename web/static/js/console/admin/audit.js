// Audit log (admin): GET /admin/audit by actor (a username, looked up as a user id), action,
// object type and id, and a time range (since, until: local times sent as UTC instants),
// newest first, paged with "load more"; each record's before and after on demand.
import { $, act, api, el, label, start, t, toast, when } from "/web/static/js/finedge.js";
import { pager, values } from "/web/static/js/console/admin/kit.js";

let list;
let query = {};

const json = (value) => (value ? el("pre.small.json", JSON.stringify(value, null, 1)) : "—");

function changes(r) {
  if (!r.before && !r.after) return "—";
  return el(
    "details",
    el("summary", t("console.admin.audit.changes")),
    el("div.grid", el("div", el("div.muted.small", t("console.admin.audit.before")), json(r.before)), el("div", el("div.muted.small", t("console.admin.audit.after")), json(r.after))),
  );
}

const columns = [
  { label: t("common.time"), value: (r) => when(r.at) },
  { label: t("console.admin.audit.actor"), value: (r) => [el("strong", r.actor_username), el("div.muted.small", label(r.actor_role, "role"))] },
  { label: t("console.admin.audit.action"), value: (r) => el("code", r.action) },
  { label: t("console.admin.audit.object"), value: (r) => `${r.object_type} ${r.object_id}` },
  { label: t("console.admin.audit.changes"), value: changes },
];

/** The API's query from the form: the actor's username becomes their user id. */
async function toQuery(form) {
  const v = values(form);
  const out = { action: v.action, object_type: v.object_type, object_id: v.object_id };
  if (v.since) out.since = new Date(v.since).toISOString();
  if (v.until) out.until = new Date(v.until).toISOString();
  if (v.actor) {
    const found = await api("GET", "/admin/users", { query: { username: v.actor, limit: 50 } });
    const user = found.items.find((u) => u.username === v.actor);
    if (!user) {
      toast(t("console.admin.audit.no_actor", { username: v.actor }), "error");
      return null;
    }
    out.actor_user_id = user.id;
  }
  return out;
}

start({ roles: ["admin"] }, async () => {
  list = pager("#records", columns, (cursor) => api("GET", "/admin/audit", { query: { ...query, cursor, limit: 50 } }), {
    empty: t("console.admin.audit.none"),
  });
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    act(event.submitter, async () => {
      const next = await toQuery(form);
      if (!next) return;
      query = next;
      await list.reload();
    });
  });
  await list.reload();
});
