// Rulesets and models, champion and challenger (GET /risk/rulesets, /risk/models,
// /risk/backtests): each with its latest backtest beside the champion's on the same dataset
// (warned share, lead time, false alarms, precision per level, alerts per week). Proposing a
// challenger (POST /risk/promotions) and approving or rejecting a pending promotion
// (POST /risk/promotions/{id}/approve|reject) go through the API, which insists on the
// champion's backtest and on a second person (403 four_eyes_required): the page shows its
// error.
import { $, act, all, api, badge, confirm, el, fill, label, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { askComment } from "/web/static/js/console/risk/shared.js";

let me = null;
let backtests = [];
let championModel = null;
let inForce = null;

const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const num = (v) => (v === null || v === undefined ? "—" : String(v));
const days = (v) => (v === null || v === undefined ? "—" : String(Math.round(v)));

function statusBadge(status) {
  return badge(label(status, "risk"), { champion: "ok", challenger: "warn", retired: "", pending: "strong", approved: "ok", rejected: "bad" }[status] || "");
}

// one figure of a backtest beside the champion's: "challenger / champion"
function pair(mine, theirs, pick, fmt) {
  const a = mine ? fmt(pick(mine.summary || {})) : "—";
  if (!theirs || (mine && theirs.id === mine.id)) return a;
  return el("span", el("strong", a), el("span.muted", ` / ${fmt(pick(theirs.summary || {}))}`));
}

const FIGURES = [
  ["warned", (s) => s.warned_strong_share, pct],
  ["warned_30", (s) => s.warned_30_days_share, pct],
  ["lead", (s) => s.lead_days_median, days],
  ["false_alarms", (s) => s.false_alarm_rate, pct],
  ["precision_hard", (s) => s.precision_12m?.hard, pct],
  ["precision_strong", (s) => s.precision_12m?.strong, pct],
  ["alerts", (s) => s.alerts_per_week_per_1000, num],
  ["auc", (s) => s.auc, num],
];

function figureColumns(mineOf, theirsOf) {
  return FIGURES.map(([key, pick, fmt]) => ({
    label: t(`console.risk.models.fig_${key}`),
    class: "num",
    value: (row) => pair(mineOf(row), theirsOf(row), pick, fmt),
  }));
}

function championOf(kind, backtest) {
  if (!backtest) return null;
  const [ckind, csubject] = kind === "ruleset" || !championModel ? ["ruleset", inForce] : ["model", String(championModel.id)];
  return backtests.find((b) => b.subject_kind === ckind && b.subject === csubject && b.dataset_sha256 === backtest.dataset_sha256) || null;
}

async function propose(kind, subject, backtest, name, button) {
  const comment = await askComment(t("console.risk.models.propose_title", { name }), t("console.risk.models.propose_note"));
  if (comment === null) return;
  await act(button, async () => {
    await api("POST", "/risk/promotions", { body: { subject_kind: kind, subject, challenger_backtest_id: backtest.id, comment } });
    toast(t("console.risk.models.proposed", { name }), "ok");
    await load();
  });
}

function proposeButton(kind, subject, backtest, name, isChampion) {
  if (isChampion || !backtest) return null;
  return el("button.btn.small.primary", { type: "button", dataset: { propose: `${kind}:${subject}` }, onclick: (e) => propose(kind, subject, backtest, name, e.currentTarget) }, t("console.risk.models.propose"));
}

function drawRulesets(items) {
  const columns = [
    { label: t("console.risk.models.version"), value: (r) => [el("strong", `v${r.version}`), " ", statusBadge(r.status)] },
    { label: t("console.risk.models.rules"), class: "num", value: (r) => String(r.rules) },
    ...figureColumns((r) => r.latest_backtest, (r) => r.champion_backtest),
    { label: t("console.risk.models.dataset"), value: (r) => (r.latest_backtest ? el("span.small.muted", r.latest_backtest.dataset) : t("console.risk.models.no_backtest")) },
    { label: t("common.actions"), value: (r) => proposeButton("ruleset", r.version, r.latest_backtest, `v${r.version}`, r.in_force) },
  ];
  fill("#rulesets", table(columns, items));
}

function drawModels(models) {
  const latest = (m) => backtests.find((b) => b.subject_kind === "model" && b.subject === String(m.id)) || null;
  const columns = [
    { label: t("console.risk.models.model"), value: (m) => [el("strong", `${m.name} v${m.version}`), " ", el("span.muted.small", m.algorithm), " ", statusBadge(m.status)] },
    ...figureColumns(latest, (m) => championOf("model", latest(m))),
    { label: t("console.risk.models.dataset"), value: (m) => (latest(m) ? el("span.small.muted", latest(m).dataset) : t("console.risk.models.no_backtest")) },
    { label: t("common.actions"), value: (m) => proposeButton("model", String(m.id), latest(m), `${m.name} v${m.version}`, m.status === "champion") },
  ];
  fill("#models", table(columns, models));
}

async function decide(p, approve, button) {
  const step = approve ? "approve" : "reject";
  const name = subjectName(p);
  const comment = await askComment(t(`console.risk.models.${step}_title`, { name }));
  if (comment === null) return;
  if (!(await confirm(t(`console.risk.models.${step}_ask`, { name })))) return;
  await act(button, async () => {
    await api("POST", `/risk/promotions/${p.id}/${step}`, { body: { comment } });
    toast(t(approve ? "console.risk.models.approved" : "console.risk.models.rejected", { name }), "ok");
    await load();
  });
}

const subjectName = (p) => `${label(p.subject_kind, "risk")} ${p.subject_kind === "ruleset" ? "v" : "#"}${p.subject}`;

function promotionColumns(actions) {
  return [
    { label: t("console.risk.models.subject"), value: (p) => [el("strong", subjectName(p)), " ", statusBadge(p.status)] },
    { label: t("console.risk.models.proposed_by"), value: (p) => [p.proposed_by, el("div.small.muted", when(p.proposed_at)), el("div.small", p.proposed_comment), p.proposed_by === me.username && p.status === "pending" ? el("div.small.warn-text", t("console.risk.models.yours")) : null] },
    ...figureColumns((p) => p.challenger_backtest, (p) => p.champion_backtest),
    actions
      ? {
          label: t("common.actions"),
          value: (p) =>
            el(
              "div.row",
              el("button.btn.small.primary", { type: "button", dataset: { approve: String(p.id) }, onclick: (e) => decide(p, true, e.currentTarget) }, t("console.risk.models.approve")),
              el("button.btn.small.danger", { type: "button", dataset: { reject: String(p.id) }, onclick: (e) => decide(p, false, e.currentTarget) }, t("console.risk.models.reject")),
            ),
        }
      : { label: t("console.risk.models.decided_by"), value: (p) => [p.decided_by || "—", el("div.small.muted", when(p.decided_at)), el("div.small", p.decision_comment || "")] },
  ];
}

async function load() {
  const [rulesets, models, tests, promotions] = await Promise.all([
    api("GET", "/risk/rulesets"),
    all("/risk/models", {}, 200),
    all("/risk/backtests", {}, 400),
    api("GET", "/risk/promotions", { query: { limit: 50 } }),
  ]);
  backtests = tests;
  inForce = rulesets.items.find((r) => r.in_force)?.version || null;
  championModel = models.find((m) => m.status === "champion") || null;
  drawRulesets(rulesets.items);
  drawModels(models);
  const pending = promotions.items.filter((p) => p.status === "pending");
  fill("#promotions", table(promotionColumns(true), pending, { empty: t("console.risk.models.none_pending") }));
  fill("#pending-count", String(pending.length));
  fill("#decided", table(promotionColumns(false), promotions.items.filter((p) => p.status !== "pending")));
}

start({ roles: ["approver", "admin"] }, async (user) => {
  me = user;
  $("#reload").addEventListener("click", (e) => act(e.currentTarget, load));
  await load();
});
