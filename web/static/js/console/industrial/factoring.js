// Digital factoring for bank staff: the core enterprises' agreements (GET /factoring/agreements)
// with limit, what is financed and the rates, and the financing applications with the rules'
// decision and every reason (GET /factoring/applications), refused ones first to hand, and the
// recourse claims on suppliers (GET /factoring/recourse-claims) with a Collect button for the
// open ones (POST /factoring/recourse-claims/{id}/collect: as much as the supplier's deposit holds).
import { $, act, api, badge, el, fill, label, money, start, t, table, toast, when } from "/web/static/js/finedge.js";

const K = (name) => t(`console.industrial.factoring.${name}`);
const state = { cursor: null, items: [] };

const agreementColumns = [
  { label: K("code"), value: (a) => a.code },
  { label: K("core"), class: "num", value: (a) => `#${a.core_id}` },
  { label: K("limit"), class: "num", value: (a) => money(a.limit) },
  { label: K("financed"), class: "num", value: (a) => money(a.financed_outstanding) },
  { label: K("advance_rate"), class: "num", value: (a) => a.advance_rate },
  { label: K("interest_rate"), class: "num", value: (a) => a.interest_rate },
  { label: K("fee_rate"), class: "num", value: (a) => a.fee_rate },
  { label: K("recourse"), value: (a) => t(a.with_recourse ? "common.yes" : "common.no") },
  { label: K("valid"), value: (a) => `${a.valid_from} – ${a.valid_to}` },
  { label: K("status"), value: (a) => badge(label(a.status, "industrial_factoring"), a.status === "active" ? "ok" : "warn") },
];

function reasons(application) {
  if (!application.reasons.length) return "—";
  return application.reasons.map((r) => `${label(r.code, "industrial_factoring")}${r.party ? ` (${r.party})` : ""}`).join("; ");
}

const applicationColumns = [
  { label: "#", class: "id", value: (a) => String(a.id) },
  { label: K("payable"), class: "num", value: (a) => `#${a.payable_id}` },
  { label: K("applicant"), class: "num", value: (a) => `#${a.applicant_id}` },
  { label: K("amount"), class: "num", value: (a) => money(a.amount) },
  { label: K("disbursed"), class: "num", value: (a) => (a.status === "approved" ? money(a.disbursed) : "—") },
  { label: K("decision"), value: (a) => badge(label(a.status, "industrial_factoring"), a.status === "approved" ? "ok" : "bad") },
  { label: K("reasons"), class: "reasons", value: reasons },
  { label: K("at"), value: (a) => when(a.created_at) },
];

async function loadApplications(more = false) {
  if (!more) {
    state.items = [];
    state.cursor = null;
  }
  const page = await api("GET", "/factoring/applications", {
    query: { status: $("#f-status").value, limit: 50, cursor: more ? state.cursor : undefined },
  });
  state.items.push(...page.items);
  state.cursor = page.next_cursor;
  fill("#applications", table(applicationColumns, state.items));
  $("#more").hidden = !state.cursor;
}

async function collect(claim) {
  const done = await api("POST", `/factoring/recourse-claims/${claim.id}/collect`, { body: {} });
  toast(`${K("collected")}: ${money(done.collected)}`, "ok");
  await loadRecourse();
}

const recourseColumns = [
  { label: "#", class: "id", value: (c) => String(c.id) },
  { label: K("payable"), class: "num", value: (c) => `#${c.payable_id}` },
  { label: K("supplier"), class: "num", value: (c) => `#${c.supplier_id}` },
  { label: K("claim"), class: "num", value: (c) => money(c.amount) },
  { label: K("collected"), class: "num", value: (c) => money(c.collected) },
  { label: K("outstanding"), class: "num", value: (c) => money(c.outstanding) },
  { label: K("status"), value: (c) => badge(label(c.status, "industrial_factoring"), c.status === "open" ? "warn" : "ok") },
  { label: K("at"), value: (c) => when(c.created_at) },
  {
    label: "",
    value: (c) =>
      c.status === "open"
        ? el("button.btn.small.primary", { type: "button", "data-claim": String(c.id), onclick: (e) => act(e.currentTarget, () => collect(c)) }, K("collect"))
        : "",
  },
];

async function loadRecourse() {
  const page = await api("GET", "/factoring/recourse-claims", { query: { limit: 100 } });
  fill("#recourse", table(recourseColumns, page.items));
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  const agreements = await api("GET", "/factoring/agreements", { query: { limit: 200 } });
  fill("#agreements", table(agreementColumns, agreements.items));
  fill(
    "#f-status",
    el("option", { value: "" }, t("common.all")),
    ["approved", "refused"].map((s) => el("option", { value: s }, label(s, "industrial_factoring"))),
  );
  $("#f-status").addEventListener("change", () => act(null, () => loadApplications()));
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => loadApplications(true)));
  await loadApplications();
  await loadRecourse();
});
