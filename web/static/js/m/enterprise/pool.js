// The enterprise's asset pool: capacity and its parts (GET /assetpool/pools/{id}), the
// maturity ladder as a small SVG bar chart (GET .../ladder: the mini-program carries no chart
// library), the assets with pledge and unpledge, entering an asset and having a bill accepted
// against the pool in one call (POST .../bills), and the pool's bills.
import { $, act, api, badge, el, fill, money, start, t, toast } from "/web/static/js/finedge.js";

const SVG = "http://www.w3.org/2000/svg";
const STATUS = {
  held: () => t("m.enterprise.pool.status_held"),
  pledged: () => t("m.enterprise.pool.status_pledged"),
  matured: () => t("m.enterprise.pool.status_matured"),
  outstanding: () => t("m.enterprise.pool.status_outstanding"),
  paid: () => t("m.enterprise.pool.status_paid"),
};
const KIND = {
  ebill: () => t("m.enterprise.pool.kind_ebill"),
  edeposit: () => t("m.enterprise.pool.kind_edeposit"),
};
let pool = null;

function figure(key, name, value) {
  return el("div.stat", { dataset: { figure: key } }, el("div.name", name), el("div.value", value));
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function chart(points) {
  const w = 320;
  const h = 140;
  const values = points.map((p) => Number(p.capacity));
  const top = Math.max(1, ...values.map(Math.abs));
  const bar = w / points.length;
  const root = svg("svg", { viewBox: `0 0 ${w} ${h + 16}`, role: "img", "aria-label": t("m.enterprise.pool.ladder") });
  root.classList.add("ladder");
  points.forEach((p, i) => {
    const v = values[i];
    const height = Math.max(1, (Math.abs(v) / top) * (h - 4));
    const rect = svg("rect", { x: i * bar + 2, y: h - height, width: bar - 4, height, fill: v < 0 ? "#c0392b" : "#2e86de" });
    const title = svg("title", {});
    title.textContent = `${p.date} ${money(p.capacity)}`;
    rect.append(title);
    root.append(rect);
    if (i % 3 === 0) {
      const label = svg("text", { x: i * bar + 2, y: h + 12, "font-size": 9 });
      label.textContent = p.date.slice(5);
      root.append(label);
    }
  });
  return root;
}

function assetItem(a) {
  const button =
    a.status === "held"
      ? el("button.btn.secondary", { type: "button", onclick: (e) => act(e.currentTarget, () => change(a, "pledge")) }, t("m.enterprise.pool.pledge"))
      : a.status === "pledged"
        ? el("button.btn.secondary", { type: "button", onclick: (e) => act(e.currentTarget, () => change(a, "unpledge")) }, t("m.enterprise.pool.unpledge"))
        : null;
  return el(
    "li",
    { dataset: { id: a.id } },
    el(
      "span.item",
      el("strong", `${KIND[a.kind]()} ${a.number}`),
      el("span.sub.muted.small", `${a.issuer_bank} · ${a.maturity_date}`),
      a.eligible ? null : el("span.sub.small", t("m.enterprise.pool.ineligible", { reasons: a.reasons.join(", ") })),
    ),
    el("span.row", badge(STATUS[a.status](), a.status === "pledged" ? "ok" : ""), el("span.num", money(a.amount)), button),
  );
}

function billItem(b) {
  return el(
    "li",
    el("span.item", el("strong", b.bill_no), el("span.sub.muted.small", `${b.payee} · ${b.maturity_date}`)),
    el("span.row", badge(STATUS[b.status](), b.status === "paid" ? "ok" : "weak"), el("span.num", money(b.amount))),
  );
}

async function change(asset, what) {
  await api("POST", `/assetpool/pools/${pool.id}/assets/${asset.id}/${what}`);
  toast(t("m.enterprise.pool.done"), "ok");
  await render();
}

async function render() {
  const found = await api("GET", "/assetpool/pools");
  $("#open").hidden = found.items.length > 0;
  if (!found.items.length) return;
  pool = await api("GET", `/assetpool/pools/${found.items[0].id}`);
  fill(
    "#figures",
    figure("capacity", t("m.enterprise.pool.capacity"), money(pool.capacity)),
    figure("pledged", t("m.enterprise.pool.pledged_value"), money(pool.pledged_value)),
    figure("margin", t("m.enterprise.pool.margin_cash"), money(pool.margin_cash)),
    figure("outstanding", t("m.enterprise.pool.outstanding"), money(pool.outstanding)),
    figure("deposit", t("m.enterprise.pool.deposit"), money(pool.deposit_available)),
  );
  const [ladder, assets, bills] = await Promise.all([
    api("GET", `/assetpool/pools/${pool.id}/ladder`),
    api("GET", `/assetpool/pools/${pool.id}/assets`, { query: { limit: 200 } }),
    api("GET", `/assetpool/pools/${pool.id}/bills`, { query: { limit: 50 } }),
  ]);
  fill("#ladder", chart(ladder.points));
  const live = assets.items.filter((a) => a.status !== "matured");
  fill("#assets", live.length ? live.map(assetItem) : el("li.muted.empty", t("common.empty")));
  fill("#bills", bills.items.length ? bills.items.map(billItem) : el("li.muted.empty", t("common.empty")));
}

start({ roles: ["enterprise"] }, async () => {
  $("#open").addEventListener("click", (e) =>
    act(e.currentTarget, async () => {
      await api("POST", "/assetpool/pools", { body: {} });
      await render();
    }),
  );
  $("#bill-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act($("#b-submit"), async () => {
      const bill = await api("POST", `/assetpool/pools/${pool.id}/bills`, {
        body: { payee: $("#b-payee").value, amount: $("#b-amount").value, maturity_date: $("#b-maturity").value },
      });
      toast(t("m.enterprise.pool.accepted", { no: bill.bill_no }), "ok");
      e.target.reset();
      await render();
    });
  });
  $("#asset-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act($("#a-submit"), async () => {
      await api("POST", `/assetpool/pools/${pool.id}/assets`, {
        body: {
          kind: $("#a-kind").value,
          number: $("#a-number").value,
          issuer_bank: $("#a-bank").value.toUpperCase(),
          amount: $("#a-amount").value,
          maturity_date: $("#a-maturity").value,
          pledge: $("#a-pledge").checked,
        },
      });
      toast(t("m.enterprise.pool.done"), "ok");
      e.target.reset();
      await render();
    });
  });
  await render();
});
