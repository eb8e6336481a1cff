// OEM: the acceptance bills it is paid with (GET /floorplan/bills), by status: the dealer, the
// amount, issue and maturity dates, what is still owed.
import { all, el, fill, money, start, t } from "/web/static/js/finedge.js";
import { fpBadge, listOf, sumMoney } from "/web/static/js/floorplan.js";

const K = (name) => t(`m.oem.bills.${name}`);
const STATUSES = ["", "issued", "shipped", "overdue", "settled"];
let bills = [];
let dealers = new Map();
let chosen = "";

function draw() {
  const rows = bills.filter((b) => !chosen || b.status === chosen).sort((a, b) => b.id - a.id);
  fill(
    "#tabs",
    STATUSES.map((status) =>
      el(
        "button",
        { type: "button", role: "tab", "aria-selected": status === chosen ? "true" : "false", onclick: () => { chosen = status; draw(); } },
        status ? fpBadge(status).textContent : t("common.all"),
      ),
    ),
  );
  fill("#total", K("total").replace("{count}", rows.length).replace("{amount}", money(sumMoney(rows.map((b) => b.amount)))));
  fill(
    "#bills",
    listOf(rows, (b) =>
            el(
              "li",
              { dataset: { bill: b.id } },
              el(
                "div",
                el("strong", `${b.bill_no} · ${money(b.amount)}`),
                el("div.muted.small", `${t("m.oem.common.dealer")} ${dealers.get(b.dealer_id) || b.dealer_id} · ${K("term").replace("{months}", b.term_months)}`),
                el("div.muted.small", `${K("issue_date")} ${b.issue_date || "—"} · ${K("maturity")} ${b.maturity_date || "—"}`),
              ),
              fpBadge(b.status),
            ),),
  );
}

start({ roles: ["oem"] }, async () => {
  const [overview, all_] = await Promise.all([all("/floorplan/dealers"), all("/floorplan/bills")]);
  dealers = new Map(overview.map((d) => [d.dealer_id, `${d.dealer_code} · ${d.dealer_name}`]));
  bills = all_;
  draw();
});
