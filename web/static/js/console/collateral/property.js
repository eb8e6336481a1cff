// One property (GET /collateral/properties/{id}, ?id=): its facts; "Value now" (POST
// /collateral/valuations {property_id}) and the latest valuation with its itemised breakdown;
// the valuation history; the credits it secures with their LTV (as the monitoring computes it)
// and linking or releasing one; the mortgage registrations with approve and reject for a
// checker who is not the maker, and release once the credit is; documents by reference; and
// taking the property off the register. Every check is the API's.
import { $, act, api, ApiError, badge, confirm, el, fill, label, money, param, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { valuationView } from "/web/static/js/collateral.js";

const K = (name, params) => t(`console.collateral.property.${name}`, params);
const V = (name) => t(`console.collateral.valuation.${name}`);
const L = (value) => label(value, "collateral_registry");
const KINDS = { active: "ok", registered: "ok", pending: "warn", rejected: "bad", released: "", ok: "ok", warn: "warn", alarm: "strong", block: "hard" };
const id = Number(param("id"));
let me = null;
let detail = null;

const b = (value) => badge(L(value), KINDS[value] || "");
const ltv = (c) => (c.ltv_bp === null || c.ltv_bp === undefined ? "—" : el("span", `${(c.ltv_bp / 100).toFixed(2)}% `, c.ltv_level ? b(c.ltv_level) : ""));
const button = (text, onclick, kind = "secondary") => el(`button.btn.small.${kind}`, { type: "button", onclick: (e) => act(e.currentTarget, onclick) }, text);

async function post(path, body, done) {
  await api("POST", path, { body: body || {} });
  toast(done, "ok");
  await load();
}

function facts(p) {
  const rows = [
    [K("owner"), p.owner_name],
    [K("address"), p.address],
    [K("where"), `${p.city} · ${p.district} · ${p.community}`],
    [K("area"), `${p.area_m2} m²`],
    [K("floor"), `${p.floor} / ${p.total_floors}`],
    [K("build_year"), String(p.build_year)],
    [K("orientation"), L(p.orientation)],
    [K("decoration"), L(p.decoration)],
    [K("rooms"), String(p.rooms)],
    [K("type"), L(p.property_type)],
    [t("common.status"), b(p.status)],
  ];
  fill("#facts", rows.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
}

function credits(p) {
  const columns = [
    { label: K("credit_kind"), value: (c) => L(c.credit_kind) },
    { label: K("credit_ref"), value: (c) => c.credit_ref },
    { label: K("borrower"), class: "num", value: (c) => `#${c.borrower_org_id}${c.third_party ? ` (${K("third_party")})` : ""}` },
    { label: K("outstanding"), class: "num", value: (c) => money(c.outstanding) },
    { label: "LTV", class: "num ltv", value: ltv },
    { label: t("common.status"), value: (c) => b(c.status) },
    { label: "", value: (c) => (c.status === "active" && p.status === "active" ? button(K("release_credit"), () => post(`/collateral/credits/${c.id}/release`, null, K("credit_released"))) : "") },
  ];
  fill("#credits", table(columns, p.credits));
  fill("#r-link", el("option", { value: "" }, K("no_credit")), p.credits.filter((c) => c.status === "active").map((c) => el("option", { value: String(c.id) }, `${L(c.credit_kind)} ${c.credit_ref}`)));
}

async function reject(r) {
  const reason = window.prompt(K("reject_reason"));
  if (!reason) return;
  await post(`/collateral/registrations/${r.id}/reject`, { reason }, K("rejected"));
}

function registrations(p) {
  const checker = me && ["approver", "admin"].includes(me.role);
  const actions = (r) => {
    if (r.status === "pending" && checker && r.maker_user_id !== me.id)
      return el("div.row", button(K("approve"), () => post(`/collateral/registrations/${r.id}/approve`, null, K("approved")), "primary"), button(K("reject"), () => reject(r), "danger"));
    if (r.status === "pending") return el("span.muted.small", K("awaiting_checker"));
    if (r.status === "registered") return button(K("release_mortgage"), () => post(`/collateral/registrations/${r.id}/release`, null, K("mortgage_released")));
    return r.reason || "";
  };
  const columns = [
    { label: K("certificate_no"), value: (r) => r.certificate_no },
    { label: K("registered_on"), value: (r) => r.registered_on },
    { label: K("maker"), class: "num", value: (r) => `#${r.maker_user_id}` },
    { label: K("checker"), class: "num", value: (r) => (r.checker_user_id ? `#${r.checker_user_id}` : "—") },
    { label: t("common.status"), value: (r) => b(r.status) },
    { label: "", value: actions },
  ];
  fill("#registrations", table(columns, p.registrations));
  for (const row of $("#registrations").querySelectorAll("tbody tr")) row.dataset.registration = String(p.registrations[row.sectionRowIndex].id);
}

function documents(p) {
  const columns = [
    { label: K("doc_kind"), value: (d) => L(d.kind) },
    { label: K("uri"), value: (d) => d.uri },
    { label: "SHA-256", value: (d) => el("code.small", d.sha256.slice(0, 16) + "…") },
    { label: K("added_at"), value: (d) => when(d.added_at) },
  ];
  fill("#documents", table(columns, p.documents));
}

function valuations(p) {
  fill("#valuation", p.latest_valuation ? valuationView(p.latest_valuation, V, L) : el("p.muted", K("not_valued")));
  const columns = [
    { label: K("valued_at"), value: (v) => when(v.created_at) },
    { label: V("value"), class: "num", value: (v) => money(v.value) },
    { label: V("range"), class: "num", value: (v) => `${money(v.low)} – ${money(v.high)}` },
    { label: K("purpose"), value: (v) => L(v.purpose) },
    { label: V("model"), class: "num", value: (v) => `#${v.model_id}` },
  ];
  fill("#history", table(columns, p.valuations));
}

async function load() {
  detail = await api("GET", `/collateral/properties/${id}`);
  fill("#prop-title", `${detail.code} · ${detail.community}`);
  facts(detail);
  valuations(detail);
  credits(detail);
  registrations(detail);
  documents(detail);
  const active = detail.status === "active";
  for (const node of ["#value-now", "#release", "#link-form", "#reg-form", "#doc-form"]) $(node).hidden = !active;
}

function showLoanFields() {
  for (const node of document.querySelectorAll(".loan-only")) node.hidden = $("#c-kind").value !== "loan";
}

start({ roles: ["rm", "approver", "admin"] }, async (user) => {
  me = user;
  fill("#c-kind", ["floorplan_line", "factoring_agreement", "loan"].map((k) => el("option", { value: k }, L(k))));
  fill("#d-kind", ["title_deed", "mortgage_certificate", "appraisal", "photo", "other"].map((k) => el("option", { value: k }, L(k))));
  $("#c-kind").addEventListener("change", showLoanFields);
  showLoanFields();
  $("#value-now").addEventListener("click", (e) =>
    act(e.currentTarget, async () => {
      const v = await api("POST", "/collateral/valuations", { body: { property_id: id } });
      toast(`${V("value")}: ${money(v.value)}`, "ok");
      await load();
    }),
  );
  $("#release").addEventListener("click", async (e) => {
    if (!(await confirm(K("release_confirm")))) return;
    act(e.currentTarget, () => post(`/collateral/properties/${id}/release`, null, K("released")));
  });
  $("#link-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { credit_kind: $("#c-kind").value, credit_ref: $("#c-ref").value.trim() };
    if (body.credit_kind === "loan") Object.assign(body, { outstanding: $("#c-outstanding").value.trim(), borrower_org_id: Number($("#c-borrower").value) });
    act(e.submitter, () => post(`/collateral/properties/${id}/credits`, body, K("linked")));
  });
  $("#reg-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { certificate_no: $("#r-cert").value.trim(), registered_on: $("#r-date").value };
    if ($("#r-link").value) body.credit_link_id = Number($("#r-link").value);
    act(e.submitter, () => post(`/collateral/properties/${id}/registrations`, body, K("recorded")));
  });
  $("#doc-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { kind: $("#d-kind").value, uri: $("#d-uri").value.trim(), sha256: $("#d-sha").value.trim() };
    act(e.submitter, () => post(`/collateral/properties/${id}/documents`, body, K("document_added")));
  });
  const orgs = await api("GET", "/orgs", { query: { limit: 200 } });
  fill("#c-borrower", orgs.items.filter((o) => !["bank", "branch", "clearinghouse"].includes(o.kind)).map((o) => el("option", { value: String(o.id) }, `${o.code} · ${o.name}`)));
  try {
    await load();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    fill("#main", el("p.notice", t("common.not_found")), el("a.btn.secondary", { href: "/console/collateral/properties" }, t("common.back")));
  }
});
