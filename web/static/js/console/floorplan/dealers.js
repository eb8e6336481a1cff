// The bank's dealer overview: every dealer's line use (limit, used, available, use), aged stock
// (cars in stock past each aging threshold), cars released before repayment or out of trust,
// and open alerts (GET /floorplan/dealers). A live vehicle.alert redraws it.
import { all, badge, el, fill, label, money, onLive, start, t, table, when } from "/web/static/js/finedge.js";
import { figure, percent, sumMoney } from "/web/static/js/floorplan.js";

const SEVERITIES = ["hard", "strong", "medium", "weak"];

const count = (row, status) => row.cars_by_status?.[status]?.count ?? 0;
const alertCount = (row) => SEVERITIES.reduce((n, s) => n + (row.open_alerts?.[s] ?? 0), 0);

function alerts(row) {
  const cells = SEVERITIES.filter((s) => row.open_alerts?.[s]).map((s) =>
    badge(`${label(s, "floorplan")} ${row.open_alerts[s]}`, s),
  );
  return cells.length ? el("span.row", cells) : "0";
}

async function render() {
  const rows = await all("/floorplan/dealers");
  const thresholds = [...new Set(rows.flatMap((r) => Object.keys(r.aging || {})))].sort((a, b) => a - b);
  fill(
    "#totals",
    figure(t("console.floorplan.dealers.dealers"), String(rows.length), "total-dealers"),
    figure(t("console.floorplan.dealers.total_limit"), money(sumMoney(rows.map((r) => r.limit))), "total-limit"),
    figure(t("console.floorplan.dealers.total_used"), money(sumMoney(rows.map((r) => r.used))), "total-used"),
    figure(t("console.floorplan.dealers.total_oot"), String(rows.reduce((n, r) => n + count(r, "out_of_trust"), 0)), "total-oot"),
    figure(t("console.floorplan.dealers.total_alerts"), String(rows.reduce((n, r) => n + alertCount(r), 0)), "total-alerts"),
  );
  const num = (name, value) => ({ label: t(`console.floorplan.dealers.${name}`), class: `num ${name}`, value });
  const columns = [
    {
      label: t("console.floorplan.dealers.dealer"),
      class: "dealer",
      value: (r) =>
        el("a", { href: `/console/floorplan/dealer?id=${r.dealer_id}`, dataset: { code: r.dealer_code } }, `${r.dealer_code} · ${r.dealer_name}`),
    },
    {
      label: t("console.floorplan.dealers.line_status"),
      class: "line-status",
      value: (r) =>
        r.credit_line
          ? badge(label(r.credit_line.status, "floorplan"), r.credit_line.status === "active" ? "ok" : "warn")
          : badge(t("console.floorplan.dealers.no_line")),
    },
    num("limit", (r) => money(r.limit)),
    num("used", (r) => money(r.used)),
    num("available", (r) => money(r.available)),
    num("utilisation", (r) => percent(r.utilisation)),
    num("in_stock", (r) => String(count(r, "in_stock"))),
    ...thresholds.map((days) => ({
      label: t("console.floorplan.dealers.aged", { days }),
      class: `num aged-${days}`,
      value: (r) => {
        const n = r.aging?.[days] ?? 0;
        return n ? badge(String(n), days >= thresholds[thresholds.length - 1] ? "strong" : "warn") : "0";
      },
    })),
    num("released_unpaid", (r) => String(count(r, "released_unpaid"))),
    {
      label: t("console.floorplan.dealers.out_of_trust"),
      class: "num out_of_trust",
      value: (r) => (count(r, "out_of_trust") ? badge(String(count(r, "out_of_trust")), "hard") : "0"),
    },
    { label: t("console.floorplan.dealers.alerts"), class: "alerts", value: alerts },
  ];
  fill("#dealers", table(columns, rows));
  fill("#as-of", t("console.floorplan.dealers.as_of", { time: when(rows[0]?.as_of) }));
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  await render();
  await onLive("vehicle.alert", () => render().catch(() => {}));
});
