// An enterprise's payables (GET /factoring/payables): a supplier sees the parts it holds and
// finances one in one tap (POST /factoring/payables/{id}/finance, decided at once), or passes a
// part on to its own supplier (POST .../transfer); a core enterprise sees what it owes, confirms
// what its suppliers registered (POST .../confirm) and pays (POST .../pay).
import { $, act, api, badge, el, fill, label, money, start, t, toast } from "/web/static/js/finedge.js";

const K = (name, params) => t(`m.enterprise.payables.${name}`, params);
const STATUSES = ["REGISTERED", "CONFIRMED", "FINANCED", "PAID", "SETTLED", "OVERDUE"];
const KIND = { CONFIRMED: "ok", FINANCED: "ok", SETTLED: "weak", OVERDUE: "bad", REGISTERED: "warn" };
const state = { cursor: null, items: [], org: null, core: false };

function statusBadge(status) {
  return badge(label(status, "enterprise_payables"), KIND[status] || "");
}

async function finance(button, p) {
  const decision = await act(button, () => api("POST", `/factoring/payables/${p.id}/finance`, { key: `fin-${p.id}-${Date.now()}` }));
  if (!decision) return;
  if (decision.status === "approved") {
    toast(K("financed", { amount: money(decision.disbursed) }), "ok", 8000);
  } else {
    const why = decision.reasons.map((r) => label(r.code, "enterprise_payables")).join("; ");
    toast(K("refused", { reasons: why }), "error", 10000);
  }
  await load();
}

async function transfer(button, p) {
  const to = Number($(`#to-${p.id}`).value);
  const amount = $(`#amt-${p.id}`).value.trim();
  const part = await act(button, () => api("POST", `/factoring/payables/${p.id}/transfer`, { body: { to_org_id: to, amount } }));
  if (part) {
    toast(K("transferred", { amount: money(part.amount) }), "ok");
    await load();
  }
}

async function simple(button, p, action, done) {
  const result = await act(button, () => api("POST", `/factoring/payables/${p.id}/${action}`, { body: {} }));
  if (result) {
    toast(K(done), "ok");
    await load();
  }
}

function actions(p) {
  const out = [];
  const holder = p.holder_id === state.org;
  if (holder && p.status === "CONFIRMED") {
    out.push(el("button.btn.primary.finance", { type: "button", onclick: (e) => finance(e.currentTarget, p) }, K("finance")));
    out.push(
      el(
        "details.transfer",
        el("summary", K("transfer")),
        el("label.field", { for: `to-${p.id}` }, K("to_org")),
        el("input", { id: `to-${p.id}`, inputmode: "numeric", autocomplete: "off" }),
        el("label.field", { for: `amt-${p.id}` }, K("amount")),
        el("input", { id: `amt-${p.id}`, inputmode: "decimal", autocomplete: "off", value: p.amount }),
        el("button.btn.secondary", { type: "button", onclick: (e) => transfer(e.currentTarget, p) }, K("transfer_do")),
      ),
    );
  }
  if (p.debtor_id === state.org) {
    if (p.status === "REGISTERED") out.push(el("button.btn.primary.confirm", { type: "button", onclick: (e) => simple(e.currentTarget, p, "confirm", "confirmed") }, K("confirm")));
    if (["CONFIRMED", "FINANCED", "OVERDUE"].includes(p.status)) out.push(el("button.btn.secondary.pay", { type: "button", onclick: (e) => simple(e.currentTarget, p, "pay", "paid") }, K("pay")));
  }
  return out;
}

function item(p) {
  return el(
    "li.payable",
    { dataset: { id: p.id } },
    el(
      "div.item",
      el("strong", p.part_no ? `${p.invoice_no} #${p.part_no}` : p.invoice_no),
      el("span.sub.muted.small", `${K("maturity")} ${p.maturity_date}`),
    ),
    el("span.row", statusBadge(p.status), el("span.num", money(p.amount))),
    el("div.row.actions", actions(p)),
  );
}

async function load(more = false) {
  if (!more) {
    state.items = [];
    state.cursor = null;
  }
  const page = await api("GET", "/factoring/payables", {
    query: { status: $("#f-status").value, role: state.core ? "owed" : "held", limit: 50, cursor: more ? state.cursor : undefined },
  });
  state.items.push(...page.items);
  state.cursor = page.next_cursor;
  fill("#payables", state.items.length ? state.items.map(item) : el("li.muted.empty", t("common.empty")));
  $("#more").hidden = !state.cursor;
}

start({ roles: ["enterprise"] }, async (user) => {
  state.org = user.org_id;
  const agreements = await api("GET", "/factoring/agreements");
  state.core = agreements.items.some((a) => a.core_id === user.org_id);
  fill("#who", K(state.core ? "as_core" : "as_supplier"));
  fill("#f-status", el("option", { value: "" }, t("common.all")), STATUSES.map((s) => el("option", { value: s }, label(s, "enterprise_payables"))));
  $("#f-status").addEventListener("change", () => act(null, () => load()));
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => load(true)));
  await load();
});
