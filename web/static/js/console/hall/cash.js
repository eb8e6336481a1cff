// The branch's cash-loading tasks with their steps (GET /cash-tasks?branch_id=, live
// `cash_task.update`) and what the branch's staff may do with one, each after a confirmation:
// approve (the checker: neither the maker nor a loader), cancel before the lock opened, and
// accept the counted notes of a mismatched task (review, with a note). The API decides who
// may: a refusal is shown as its error.
import { $, act, all, api, badge, confirm, el, fill, label, money, onLive, start, t, toast, when } from "/web/static/js/finedge.js";
import { keepCurrent, pickBranch } from "/web/static/js/console/hall/branch.js";

const OPEN = new Set(["planned", "approved", "unlocked", "loaded"]);
const STATUS_KIND = { planned: "warn", approved: "weak", unlocked: "strong", loaded: "strong", closed: "ok", cancelled: "" };

let branch = null;
const tasks = new Map();

function steps(task) {
  const list = [
    ["created", task.created_at],
    ["approved", task.approved_at],
    ["verified", task.verified?.length >= 2 ? task.armed_at || task.unlocked_at || true : null],
    ["armed", task.armed_at],
    ["unlocked", task.unlocked_at],
    ["loaded", task.loaded_at],
    ["door_closed", task.door_closed_at],
    ["closed", task.closed_at],
  ];
  if (task.status === "cancelled") {
    const reached = list.filter(([, at]) => at);
    return [...reached, ["cancelled", task.cancelled_at]];
  }
  return list;
}

function stepItem(task, [name, at]) {
  const done = Boolean(at);
  const extra =
    name === "verified" && task.verified?.length ? el("div.small.muted", t("console.hall.cash.verified_by", { names: task.verified.join(", ") })) : null;
  return el(
    "li",
    { class: done ? "done" : "todo", dataset: { step: name } },
    el("span.hall-step-mark", { "aria-hidden": "true" }, done ? "✓" : "○"),
    el("div", el("div", t(`console.hall.cash.step.${name}`)), extra),
    el("span.small.muted", done ? (typeof at === "string" ? when(at) : "") : t("console.hall.cash.pending")),
  );
}

function amounts(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return "—";
  return entries.map(([denomination, amount]) => `${money(denomination)}: ${money(amount)}`).join("; ");
}

function actions(task) {
  const out = [];
  if (task.status === "planned") {
    const approve = el("button.btn.small.primary", { type: "button", dataset: { action: "approve" } }, t("console.hall.cash.approve"));
    approve.addEventListener("click", () => run(approve, task, "approve", t("console.hall.cash.confirm_approve", { ref: task.ref })));
    out.push(approve);
  }
  if (task.phase === "count_mismatch" && !task.review) {
    const id = `note-${task.id}`;
    const note = el("input", { id, type: "text", maxlength: "200" });
    const review = el("button.btn.small.secondary", { type: "button", dataset: { action: "review" } }, t("console.hall.cash.review"));
    review.addEventListener("click", () => {
      if (!note.value.trim()) {
        toast(t("console.hall.cash.note_required"), "error");
        note.focus();
        return;
      }
      run(review, task, "review", t("console.hall.cash.confirm_review", { ref: task.ref }), { note: note.value.trim() });
    });
    out.push(el("div.hall-inline", el("label.field", { for: id }, t("console.hall.cash.note")), note, review));
  }
  if (task.status === "planned" || task.status === "approved") {
    const id = `reason-${task.id}`;
    const reason = el("input", { id, type: "text", maxlength: "200" });
    const cancel = el("button.btn.small.danger", { type: "button", dataset: { action: "cancel" } }, t("console.hall.cash.cancel"));
    cancel.addEventListener("click", () =>
      run(cancel, task, "cancel", t("console.hall.cash.confirm_cancel", { ref: task.ref }), { reason: reason.value.trim() }),
    );
    out.push(el("div.hall-inline", el("label.field", { for: id }, t("console.hall.cash.reason")), reason, cancel));
  }
  return out.length ? el("div.row.hall-task-actions", out) : null;
}

function run(button, task, action, question, body) {
  act(button, async () => {
    if (!(await confirm(question))) return;
    const view = await api("POST", `/cash-tasks/${task.id}/${action}`, { body });
    toast(t("console.hall.cash.saved", { ref: view.ref }), "ok");
    put(view);
  });
}

function card(task) {
  return el(
    "article.card.hall-task",
    { dataset: { task: String(task.id) } },
    el(
      "div.row.between",
      el("h2", task.ref),
      el(
        "div.row",
        badge(label(task.status, "hall_cash"), STATUS_KIND[task.status] || ""),
        task.phase && task.phase !== task.status ? badge(label(task.phase, "hall_cash")) : null,
      ),
    ),
    el(
      "dl.kv",
      el("dt", t("console.hall.cash.device")),
      el("dd", el("code", task.device_id)),
      el("dt", t("console.hall.cash.lock")),
      el("dd", el("code", task.lock_id || "—")),
      el("dt", t("console.hall.cash.loaders")),
      el("dd", (task.loader_names || []).join(", ") || "—"),
      el("dt", t("console.hall.cash.window")),
      el("dd", `${when(task.window_start)} – ${when(task.window_end, { date: false })}`),
      el("dt", t("console.hall.cash.total")),
      el("dd", money(task.total)),
      el("dt", t("console.hall.cash.amounts")),
      el("dd", amounts(task.amounts)),
      Object.keys(task.loaded || {}).length ? [el("dt", t("console.hall.cash.loaded")), el("dd", amounts(task.loaded))] : null,
      task.review_note ? [el("dt", t("console.hall.cash.review_note")), el("dd", task.review_note)] : null,
    ),
    el("h3", t("console.hall.cash.steps")),
    el("ol.hall-steps", steps(task).map((s) => stepItem(task, s))),
    actions(task),
  );
}

function draw() {
  const filter = $("#status").value;
  const rows = [...tasks.values()]
    .filter((task) => filter !== "open" || OPEN.has(task.status))
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  fill("#tasks", rows.length ? rows.map(card) : el("p.muted.empty", t("console.hall.cash.none")));
}

function put(task) {
  if (task.branch_id !== branch || task.id === undefined) return;
  if (task.refused) {
    toast(t("console.hall.cash.refused", { ref: task.ref || task.id, why: task.refused }), "error", 8000);
    if (!task.status) return;
  }
  const { refused: _refused, details: _details, ...view } = task;
  tasks.set(view.id, { ...tasks.get(view.id), ...view });
  draw();
}

async function reload() {
  const items = await all("/cash-tasks", { branch_id: branch }, 500);
  tasks.clear();
  for (const task of items) tasks.set(task.id, task);
  draw();
}

start({ roles: ["teller", "approver", "admin", "rm"] }, async (user) => {
  branch = await pickBranch(user);
  if (!branch) return;
  $("#status").addEventListener("change", draw);
  await onLive("cash_task.update", put);
  await reload();
  await keepCurrent(user, reload);
});
