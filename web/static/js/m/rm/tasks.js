// The RM's campaign tasks on the phone (GET /marketing/tasks): their own calls and visits, open
// first by default, each opening the task (client summary, script, outcome).
import { $, act, api, badge, el, fill, label, start, t } from "/web/static/js/finedge.js";

const L = (value) => label(value, "marketing_campaign");
let items = [];
let cursor = null;

function item(task) {
  return el(
    "li",
    { dataset: { task: String(task.id) } },
    el(
      "a.rm-item",
      { href: `/m/rm/task?id=${task.id}` },
      el("div.row", badge(L(task.kind)), badge(L(task.status), task.status === "open" ? "warn" : "ok"), task.outcome ? badge(L(task.outcome)) : null),
      el("div.small.muted", t("m.rm.tasks.line", { client: task.client_id, due: task.due_on })),
    ),
  );
}

async function page(reset) {
  const data = await api("GET", "/marketing/tasks", { query: { status: $("#f-status").value, limit: 30, cursor: reset ? undefined : cursor } });
  cursor = data.next_cursor;
  items = reset ? data.items : [...items, ...data.items];
  fill("#tasks", items.length ? items.map(item) : el("li.muted", t("m.rm.tasks.empty")));
  $("#more").hidden = !cursor;
}

start({ roles: ["rm", "marketing", "admin"] }, async () => {
  fill("#f-status", el("option", { value: "" }, t("common.all")), ["open", "done", "cancelled"].map((s) => el("option", { value: s, selected: s === "open" }, L(s))));
  $("#f-status").addEventListener("change", () => act(null, () => page(true)));
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => page(false)));
  await page(true);
});
