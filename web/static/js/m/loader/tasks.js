// The loader's cash tasks: the tasks of the branch that name this loader (GET /cash-tasks,
// then GET /cash-tasks/{id} for each open one: the loaders' own view, with the one-time code
// while the unlock is valid), each with its steps from planned to closed; live through
// `cash_task.update` (to the branch's staff, and with the code to the task's two loaders).
import { all, api, badge, el, fill, label, money, onLive, start, t, toast, when } from "/web/static/js/finedge.js";

const OPEN = new Set(["planned", "approved", "unlocked", "loaded"]);
const KINDS = { planned: "warn", approved: "", unlocked: "strong", loaded: "ok", closed: "ok", cancelled: "" };
const tasks = new Map();
let me = null;

const mine = (task) => (task.loaders || []).includes(me.id);

function steps(task) {
  const verified = task.verified || [];
  const list = [
    ["created", task.created_at, true],
    ["approved", task.approved_at, Boolean(task.approved_at)],
    ["verified", null, verified.length >= 2 || Boolean(task.armed_at) || Boolean(task.unlocked_at), verified],
    ["armed", task.armed_at, Boolean(task.armed_at) || Boolean(task.unlocked_at)],
    ["unlocked", task.unlocked_at, Boolean(task.unlocked_at)],
    ["loaded", task.loaded_at, Boolean(task.loaded_at)],
    ["closed", task.door_closed_at || task.closed_at, Boolean(task.closed_at)],
  ];
  if (task.status === "cancelled") list.push(["cancelled", task.cancelled_at, true]);
  const current = task.status === "cancelled" ? -1 : list.findIndex(([, , done]) => !done);
  return el(
    "ol.steps",
    list.map(([name, at, done, who], i) =>
      el(
        `li.step${done ? ".done" : ""}${i === current ? ".current" : ""}`,
        { dataset: { step: name }, "aria-current": i === current ? "step" : null },
        el("span.step-name", t(`m.loader.tasks.step_${name}`)),
        at ? el("span.muted.small", when(at)) : null,
        who && who.length && !done ? el("span.muted.small", t("m.loader.tasks.verified_by", { names: who.join(", ") })) : null,
      ),
    ),
  );
}

function amounts(task) {
  const rows = Object.entries(task.amounts || {});
  if (!rows.length) return null;
  return el(
    "ul.list.compact",
    rows.map(([value, amount]) =>
      el("li", el("span", t("m.loader.tasks.denomination", { value: money(value) })), el("strong", money(amount))),
    ),
  );
}

function card(task) {
  const kv = [
    [t("m.loader.tasks.phase"), label(task.phase, "loader")],
    [t("m.loader.tasks.device"), task.device_id],
    [t("m.loader.tasks.lock"), task.lock_id || "—"],
    [t("m.loader.tasks.window"), `${when(task.window_start)} – ${when(task.window_end, { date: false })}`],
    [t("m.loader.tasks.total"), money(task.total)],
    [t("m.loader.tasks.loaders"), (task.loader_names || []).join(", ")],
  ];
  if (task.review_note) kv.push([t("m.loader.tasks.review"), task.review_note]);
  return el(
    "section.card.task",
    { dataset: { task: task.id, status: task.status, phase: task.phase } },
    el("div.row.between", el("h3", task.ref || `#${task.id}`), badge(label(task.status, "loader"), KINDS[task.status] || "")),
    task.unlock_code
      ? el(
          "div.notice.unlock",
          el("div.small", t("m.loader.tasks.code")),
          el("div.big", task.unlock_code),
          el("div.small", t("m.loader.tasks.code_until", { time: when(task.unlock_expires_at, { date: false }) })),
        )
      : null,
    el("dl.kv", kv.map(([name, value]) => [el("dt", name), el("dd", value)])),
    amounts(task),
    el("h4", t("m.loader.tasks.steps")),
    steps(task),
  );
}

function render() {
  const list = [...tasks.values()].filter(mine).sort((a, b) => {
    const open = Number(OPEN.has(b.status)) - Number(OPEN.has(a.status));
    return open || b.id - a.id;
  });
  fill("#tasks", list.length ? list.map(card) : el("p.muted.empty", t("m.loader.tasks.none")));
}

async function load() {
  const listed = await all("/cash-tasks", {}, 400);
  tasks.clear();
  for (const task of listed) tasks.set(task.id, task);
  await Promise.all(
    listed
      .filter((task) => mine(task) && OPEN.has(task.status))
      .map(async (task) => tasks.set(task.id, await api("GET", `/cash-tasks/${task.id}`))),
  );
  render();
}

function pushed(update) {
  if (!update || update.id === undefined) return;
  if (update.refused && (update.loaders || []).includes(me.id)) {
    toast(t("m.loader.tasks.refused", { reason: update.refused }), "error", 8000);
  }
  const { refused, details, ...task } = update;
  const old = tasks.get(task.id) || {};
  // the branch room's push has no code; the loaders' own keeps it while the unlock is valid
  const merged = { ...old, ...task };
  if (!("unlock_code" in task) && task.phase !== "armed") delete merged.unlock_code;
  tasks.set(task.id, merged);
  render();
}

start({ roles: ["loader"] }, async (user) => {
  me = user;
  await load();
  await onLive("cash_task.update", pushed);
});
