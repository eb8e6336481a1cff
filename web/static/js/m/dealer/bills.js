// The dealer's acceptance bills (GET /floorplan/bills, by status, a page at a time), and one
// bill's amounts and dates on tap (GET /floorplan/bills/{id}; ?id= opens one directly).
import { $, act, api, badge, el, fill, label, money, param, start, t, when } from "/web/static/js/finedge.js";

const STATUSES = ["requested", "issued", "shipped", "overdue", "settled", "rejected"];
const KIND = { issued: "ok", shipped: "ok", overdue: "bad", rejected: "warn", requested: "weak" };
const state = { cursor: null, items: [] };

function fact(name, value) {
  return [el("dt", name), el("dd", value)];
}

function billBadge(status) {
  return badge(label(status, "dealer"), KIND[status] || "");
}

async function show(id) {
  const b = await api("GET", `/floorplan/bills/${id}`);
  fill(
    "#detail",
    el(
      "section.card.bill-detail",
      { "aria-labelledby": "bill-h", tabindex: "-1" },
      el("div.row.between", el("h2", { id: "bill-h" }, b.bill_no), billBadge(b.status)),
      el(
        "dl.kv",
        fact(t("m.dealer.bills.amount"), money(b.amount)),
        fact(t("m.dealer.bills.margin"), money(b.margin)),
        fact(t("m.dealer.bills.margin_ratio"), `${(Number(b.margin_ratio) * 100).toFixed(2)}%`),
        fact(t("m.dealer.bills.term"), t("m.dealer.bills.term_months", { months: b.term_months })),
        fact(t("m.dealer.bills.issue_date"), b.issue_date || "—"),
        fact(t("m.dealer.bills.maturity_date"), b.maturity_date || "—"),
        fact(t("m.dealer.bills.outstanding"), money(b.outstanding)),
        b.advance_outstanding !== "0.00" ? fact(t("m.dealer.bills.advance"), money(b.advance_outstanding)) : null,
        b.shortfall !== "0.00" ? fact(t("m.dealer.bills.shortfall"), money(b.shortfall)) : null,
        fact(t("m.dealer.bills.requested_at"), when(b.requested_at)),
        b.settled_at ? fact(t("m.dealer.bills.settled_at"), when(b.settled_at)) : null,
        b.note ? fact(t("m.dealer.bills.note"), b.note) : null,
        b.decision_note ? fact(t("m.dealer.bills.decision_note"), b.decision_note) : null,
      ),
    ),
  );
  $("#detail section").focus();
}

function item(b) {
  return el(
    "li",
    { dataset: { id: b.id } },
    el(
      "button.link.item.bill",
      { type: "button", "aria-label": t("m.dealer.bills.show", { no: b.bill_no }), onclick: (e) => act(e.currentTarget, () => show(b.id)) },
      el("strong", b.bill_no),
      el("span.sub.muted.small", b.maturity_date ? `${t("m.dealer.bills.maturity_date")} ${b.maturity_date}` : when(b.requested_at)),
    ),
    el("span.row", billBadge(b.status), el("span.num", money(b.amount))),
  );
}

async function load(more = false) {
  if (!more) {
    state.items = [];
    state.cursor = null;
  }
  const page = await api("GET", "/floorplan/bills", {
    query: { status: $("#f-status").value, limit: 50, cursor: more ? state.cursor : undefined },
  });
  state.items.push(...page.items);
  state.cursor = page.next_cursor;
  fill("#bills", state.items.length ? state.items.map(item) : el("li.muted.empty", t("common.empty")));
  $("#more").hidden = !state.cursor;
}

start({ roles: ["dealer"] }, async () => {
  fill("#f-status", el("option", { value: "" }, t("common.all")), STATUSES.map((s) => el("option", { value: s }, label(s, "dealer"))));
  $("#f-status").addEventListener("change", () => act(null, () => load()));
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => load(true)));
  await load();
  const id = Number(param("id"));
  if (Number.isInteger(id) && id > 0) await show(id);
});
