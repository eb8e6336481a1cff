// The bank's view of every enterprise asset pool (GET /assetpool/pools): capacity and its parts;
// ?id= (or a click) drills into one pool: its figures, the capacity ladder month by month (an
// echarts bar chart, as the hall's flow page draws its charts), its assets and bills.
import { $, all, api, el, fill, money, param, start, t, table } from "/web/static/js/finedge.js";

function figure(name, value) {
  return el("div.stat", el("div.name", name), el("div.value", value));
}

function sum(values) {
  // decimal strings added in cents, so the total stays exact
  const cents = values.reduce((n, v) => n + BigInt(v.replace(".", "")), 0n);
  const sign = cents < 0n ? "-" : "";
  const abs = (cents < 0n ? -cents : cents).toString().padStart(3, "0");
  return `${sign}${abs.slice(0, -2)}.${abs.slice(-2)}`;
}

async function drill(id) {
  const [pool, ladder, assets, bills] = await Promise.all([
    api("GET", `/assetpool/pools/${id}`),
    api("GET", `/assetpool/pools/${id}/ladder`, { query: { granularity: "month", periods: 12 } }),
    api("GET", `/assetpool/pools/${id}/assets`, { query: { limit: 200 } }),
    api("GET", `/assetpool/pools/${id}/bills`, { query: { limit: 200 } }),
  ]);
  $("#one").hidden = false;
  fill("#one-h", `${pool.org_code} · ${pool.org_name}`);
  fill(
    "#one-figures",
    figure(t("console.industrial.pools.capacity"), money(pool.capacity)),
    figure(t("console.industrial.pools.pledged"), money(pool.pledged_value)),
    figure(t("console.industrial.pools.margin"), money(pool.margin_cash)),
    figure(t("console.industrial.pools.outstanding"), money(pool.outstanding)),
    figure(t("console.industrial.pools.config"), String(pool.config_version)),
  );
  const node = $("#chart-ladder");
  if (globalThis.echarts) {
    const chart = echarts.getInstanceByDom(node) || echarts.init(node, null, { renderer: "canvas" });
    chart.setOption(
      {
        animation: false,
        tooltip: { trigger: "axis" },
        grid: { left: 80, right: 24, top: 24, bottom: 36 },
        xAxis: { type: "category", data: ladder.points.map((p) => p.date) },
        yAxis: { type: "value" },
        series: [{ type: "bar", name: t("console.industrial.pools.capacity"), data: ladder.points.map((p) => Number(p.capacity)) }],
      },
      true,
    );
  }
  fill(
    "#one-assets",
    table(
      [
        { label: t("console.industrial.pools.number"), value: (a) => `${a.kind} ${a.number}` },
        { label: t("console.industrial.pools.issuer"), value: (a) => a.issuer_bank },
        { label: t("console.industrial.pools.status"), value: (a) => a.status },
        { label: t("console.industrial.pools.maturity"), value: (a) => a.maturity_date },
        { label: t("console.industrial.pools.amount"), class: "num", value: (a) => money(a.amount) },
        { label: t("console.industrial.pools.value"), class: "num", value: (a) => money(a.value) },
        { label: t("console.industrial.pools.reasons"), value: (a) => a.reasons.join(", ") },
      ],
      assets.items,
    ),
  );
  fill(
    "#one-bills",
    table(
      [
        { label: t("console.industrial.pools.bill_no"), value: (b) => b.bill_no },
        { label: t("console.industrial.pools.payee"), value: (b) => b.payee },
        { label: t("console.industrial.pools.status"), value: (b) => b.status },
        { label: t("console.industrial.pools.maturity"), value: (b) => b.maturity_date },
        { label: t("console.industrial.pools.amount"), class: "num", value: (b) => money(b.amount) },
      ],
      bills.items,
    ),
  );
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  const rows = await all("/assetpool/pools");
  fill(
    "#totals",
    figure(t("console.industrial.pools.count"), String(rows.length)),
    figure(t("console.industrial.pools.capacity"), money(sum(rows.map((r) => r.capacity)))),
    figure(t("console.industrial.pools.outstanding"), money(sum(rows.map((r) => r.outstanding)))),
  );
  fill(
    "#pools",
    table(
      [
        {
          label: t("console.industrial.pools.enterprise"),
          class: "enterprise",
          value: (r) => el("a", { href: `/console/industrial/pools?id=${r.id}`, dataset: { code: r.org_code } }, `${r.org_code} · ${r.org_name}`),
        },
        { label: t("console.industrial.pools.capacity"), class: "num capacity", value: (r) => money(r.capacity) },
        { label: t("console.industrial.pools.pledged"), class: "num", value: (r) => money(r.pledged_value) },
        { label: t("console.industrial.pools.margin"), class: "num", value: (r) => money(r.margin_cash) },
        { label: t("console.industrial.pools.outstanding"), class: "num", value: (r) => money(r.outstanding) },
      ],
      rows,
    ),
  );
  const id = Number(param("id"));
  if (Number.isInteger(id) && id > 0) await drill(id);
});
