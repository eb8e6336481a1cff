// A trader's clearing accounts (GET /clearing/accounts): balance, available and held per
// account; what each order holds (GET /clearing/accounts/{id}/orders); the recent instructions
// of the clearing house on its accounts (GET /clearing/instruction-log). Only its own: the API
// answers 404 for anyone else's. Each account has a withdraw form (POST
// /clearing/accounts/{id}/withdraw): back to the main deposit account, at most the available
// balance; its reference is kept until the withdrawal succeeds, so a retry applies once.
import { act, all, api, badge, el, fill, label, money, start, t, toast, when } from "/web/static/js/finedge.js";

const K = (name) => t(`m.enterprise.trading.${name}`);
const KIND = { applied: "ok", pending: "warn", rejected: "danger", open: "warn", bargained: "warn", delivered: "ok", cancelled: "" };
const state = (value) => badge(label(value, "enterprise_trading"), KIND[value] || "");

function withdrawForm(a, after) {
  const id = `wd-${a.id}`;
  const amount = el("input", { id, inputmode: "decimal", maxlength: 20, autocomplete: "off", placeholder: "0.00" });
  const button = el("button.btn.small", { type: "submit" }, K("withdraw"));
  let reference = crypto.randomUUID();
  const form = el("form.form.withdraw", { novalidate: true }, el("label", { for: id }, K("withdraw_amount")), amount, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await act(button, () =>
      api("POST", `/clearing/accounts/${a.id}/withdraw`, { body: { amount: amount.value.trim(), reference } }),
    );
    if (done) {
      reference = crypto.randomUUID();
      toast(K("withdrawn"), "ok");
      await after();
    }
  });
  return form;
}

function accountCard(a, after) {
  return el(
    "li",
    { dataset: { account: a.account_no } },
    el(
      "div",
      el("strong", `${a.account_no} · ${a.label}`),
      el("div.muted.small", `${K("house")} ${a.clearing_house}`),
      el("div", `${K("available")} `, el("strong.available", money(a.available))),
      el("div.small", `${K("balance")} ${money(a.balance)} · ${K("held")} `, el("span.held", money(a.held))),
      withdrawForm(a, after),
    ),
  );
}

async function render() {
  const accounts = await all("/clearing/accounts");
  const names = new Map(accounts.map((a) => [a.id, a.account_no]));
  fill("#accounts", accounts.length ? el("ul.list", accounts.map((a) => accountCard(a, render))) : el("p.muted.empty", K("none")));
  const orders = (await Promise.all(accounts.map((a) => all(`/clearing/accounts/${a.id}/orders`, {}, 50)))).flat();
  orders.sort((x, y) => y.id - x.id);
  fill(
    "#orders",
    orders.length
      ? el("ul.list", orders.slice(0, 30).map((o) =>
          el("li", { dataset: { order: o.order_ref } },
            el("div", el("strong", o.order_ref), el("div.muted.small", `${names.get(o.account_id)} · ${K("held")} ${money(o.held)}`)),
            state(o.status)),
        ))
      : el("p.muted.empty", K("no_orders")),
  );
  const page = await api("GET", "/clearing/instruction-log", { query: { limit: 20 } });
  fill(
    "#log",
    page.items.length
      ? el("ul.list", page.items.map((i) =>
          el("li",
            el("div",
              el("strong", `#${i.seq} ${label(i.kind, "enterprise_trading")} · ${i.order_ref}`),
              el("div.muted.small", `${names.get(i.account_id) || i.account_id} · ${i.kind === "cancel" ? "—" : money(i.amount)} · ${when(i.received_at)}`)),
            state(i.status)),
        ))
      : el("p.muted.empty", K("no_instructions")),
  );
}

start({ roles: ["enterprise"] }, render);
