// What the console's risk pages share: level and status badges, a signal's workflow actions
// (confirm, dismiss, lift; approve, reject) through a comment dialog, and links between the
// pages. Every decision goes through the API, whose checks (role, the RM's own enterprises,
// four eyes on hard signals) are the only ones.
import { api, badge, el, errorText, label, t, toast, when } from "/web/static/js/finedge.js";

export const LEVELS = ["hard", "strong", "medium", "weak"];

export function levelBadge(level) {
  return level ? badge(label(level, "risk"), level) : badge("—");
}

export function statusBadge(status, pending) {
  const kind = { open: "warn", pending_review: "strong", confirmed: "bad", dismissed: "ok", lifted: "ok" }[status] || "";
  const text = status === "pending_review" && pending ? t("console.risk.common.pending", { decision: label(pending, "risk") }) : label(status, "risk");
  return badge(text, kind);
}

export const enterpriseUrl = (id) => `/console/risk/enterprise?id=${encodeURIComponent(id)}`;
export const graphUrl = (id) => `/console/risk/graph?id=${encodeURIComponent(id)}`;

export function enterpriseLink(signal) {
  return el("a", { href: enterpriseUrl(signal.enterprise_id) }, signal.enterprise_name || `#${signal.enterprise_id}`);
}

/**
 * Ask for a comment in the page's decide dialog (templates/console/risk/_decide.html):
 * resolves with the comment, or null when cancelled.
 */
export function askComment(title, note = "") {
  const dialog = document.getElementById("decide-dialog");
  const input = document.getElementById("decide-comment");
  document.getElementById("decide-title").textContent = title;
  document.getElementById("decide-note").textContent = note;
  const error = document.getElementById("decide-error");
  error.textContent = "";
  input.value = "";
  return new Promise((resolve) => {
    const form = dialog.querySelector("form");
    const submit = (event) => {
      if (event.submitter?.value !== "ok") return;
      if (!input.value.trim()) {
        event.preventDefault();
        error.textContent = t("console.risk.common.comment_needed");
        input.focus();
      }
    };
    form.addEventListener("submit", submit);
    dialog.addEventListener(
      "close",
      () => {
        form.removeEventListener("submit", submit);
        resolve(dialog.returnValue === "ok" ? input.value.trim() : null);
      },
      { once: true },
    );
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
}

const MAKER_STEPS = { open: ["confirm", "dismiss"], confirmed: ["lift"] };

/** The button word of each workflow step. */
export function stepText(step) {
  return {
    confirm: t("console.risk.common.confirm"),
    dismiss: t("console.risk.common.dismiss"),
    lift: t("console.risk.common.lift"),
    approve: t("console.risk.common.approve"),
    reject: t("console.risk.common.reject"),
  }[step];
}

const MAKER = new Set(["confirm", "dismiss", "lift"]);

/** POST /risk/signals/{id}/{step} with a comment asked for first; resolves with the signal. */
export async function decide(signal, step) {
  const action = stepText(step);
  const note = signal.level === "hard" && MAKER.has(step) ? t("console.risk.common.hard_needs_checker") : "";
  const comment = await askComment(t("console.risk.common.decide_title", { action, name: signal.enterprise_name }), note);
  if (comment === null) return null;
  const updated = await api("POST", `/risk/signals/${signal.id}/${step}`, { body: { comment } });
  toast(t("console.risk.common.done"), "ok");
  return updated;
}

/** The maker's buttons a signal's status allows; `after(updated)` runs when one succeeded. */
export function makerButtons(signal, after) {
  const steps = MAKER_STEPS[signal.status] || [];
  return el(
    "div.row",
    steps.map((step) =>
      el(
        `button.btn.small.${step === "confirm" ? "danger" : "secondary"}`,
        {
          type: "button",
          dataset: { step, signal: String(signal.id) },
          onclick: async (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            try {
              const updated = await decide(signal, step);
              if (updated) after(updated);
            } catch (error) {
              toast(errorText(error), "error", 8000);
            } finally {
              button.disabled = false;
            }
          },
        },
        stepText(step),
      ),
    ),
  );
}

export function signalColumns({ actions, enterprise = true } = {}) {
  const columns = [
    { label: t("console.risk.common.level"), value: (s) => levelBadge(s.level) },
    enterprise ? { label: t("console.risk.common.enterprise"), value: enterpriseLink } : null,
    { label: t("console.risk.common.rule"), value: (s) => el("span", el("code.risk-rule", s.rule_id), " ", el("span.muted.small", label(s.origin, "risk"))) },
    { label: t("console.risk.common.reason"), value: (s) => s.reason },
    { label: t("console.risk.common.status"), value: (s) => [statusBadge(s.status, s.pending_decision), s.blocking ? [" ", badge(t("console.risk.common.blocking"), "hard")] : null] },
    { label: t("console.risk.common.raised_at"), value: (s) => when(s.raised_at) },
    actions ? { label: t("common.actions"), value: actions } : null,
  ];
  return columns.filter(Boolean);
}

