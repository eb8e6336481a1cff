// Approvals (checker step of the maker-checker workflow on hard signals): the signals whose
// proposed decision awaits review (GET /risk/signals?status=pending_review) with who proposed
// what and why (GET /risk/signals/{id}: the workflow history), approve or reject with a
// comment and a confirmation (POST /risk/signals/{id}/approve|reject). The API refuses the
// maker's own proposal (403 four_eyes_required), and the page shows its error. Live: a
// `risk.signal` push of a review request or a decision reloads the list.
import { $, act, api, confirm, el, fill, label, onLive, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { askComment, enterpriseLink, levelBadge, stepText } from "/web/static/js/console/risk/shared.js";

let me = null;
let rows = [];
let cursor = null;

function proposal(s) {
  const review = [...(s.reviews || [])].reverse().find((r) => r.step === "propose");
  return {
    who: review?.username || (s.proposed_by_user_id ? `#${s.proposed_by_user_id}` : "—"),
    at: review?.at,
    comment: review?.comment || s.proposed_comment || "",
  };
}

async function check(signal, approve, button) {
  const step = approve ? "approve" : "reject";
  const decision = label(signal.pending_decision, "risk");
  const comment = await askComment(t("console.risk.common.decide_title", { action: stepText(step), name: signal.enterprise_name }));
  if (comment === null) return;
  if (!(await confirm(t("console.risk.approvals.ask", { action: stepText(step), decision, name: signal.enterprise_name })))) return;
  await act(button, async () => {
    const updated = await api("POST", `/risk/signals/${signal.id}/${step}`, { body: { comment } });
    rows = rows.filter((r) => r.id !== signal.id);
    draw();
    const text = t(approve ? "console.risk.approvals.approved" : "console.risk.approvals.rejected", { name: signal.enterprise_name });
    $("#decided > li.muted")?.remove();
    $("#decided").prepend(
      el("li", { dataset: { signal: String(signal.id) } }, el("span", levelBadge(updated.level), " ", text, " ", el("span.muted.small", `${decision} → ${label(updated.status, "risk")}`)), el("span.muted.small", when(new Date().toISOString()))),
    );
    toast(text, "ok");
  });
}

function draw() {
  const columns = [
    { label: t("console.risk.common.level"), value: (s) => levelBadge(s.level) },
    { label: t("console.risk.common.enterprise"), value: enterpriseLink },
    { label: t("console.risk.common.reason"), value: (s) => [el("code", s.rule_id), " ", s.reason] },
    { label: t("console.risk.approvals.proposal"), value: (s) => [el("strong", label(s.pending_decision, "risk")), s.proposed_comment ? el("div.small", proposal(s).comment) : null] },
    {
      label: t("console.risk.approvals.proposed_by"),
      value: (s) => [proposal(s).who, el("div.small.muted", when(proposal(s).at)), s.proposed_by_user_id === me.id ? el("div.small.warn-text", t("console.risk.approvals.yours")) : null],
    },
    {
      label: t("common.actions"),
      value: (s) =>
        el(
          "div.row",
          el("button.btn.small.primary", { type: "button", dataset: { approve: String(s.id) }, onclick: (e) => check(s, true, e.currentTarget) }, stepText("approve")),
          el("button.btn.small.danger", { type: "button", dataset: { reject: String(s.id) }, onclick: (e) => check(s, false, e.currentTarget) }, stepText("reject")),
        ),
    },
  ];
  fill("#pending", table(columns, rows));
  fill("#pending-count", String(rows.length));
  $("#more").hidden = !cursor;
}

async function page(reset) {
  const data = await api("GET", "/risk/signals", { query: { status: "pending_review", limit: 50, cursor: reset ? undefined : cursor } });
  cursor = data.next_cursor;
  const detailed = await Promise.all(data.items.map((s) => api("GET", `/risk/signals/${s.id}`)));
  rows = reset ? detailed : [...rows, ...detailed];
  draw();
}

start({ roles: ["approver", "admin"] }, async (user) => {
  me = user;
  fill("#decided", el("li.muted", t("console.risk.common.none")));
  $("#reload").addEventListener("click", (e) => act(e.currentTarget, () => page(true)));
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => page(false)));
  await page(true);
  await onLive("risk.signal", (s) => {
    if (s.event === "review_requested" || (s.event === "decided" && rows.some((r) => r.id === s.id))) act(null, () => page(true));
  });
});
