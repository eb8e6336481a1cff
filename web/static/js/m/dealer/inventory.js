// Dealer inventory: the dealer's cars (GET /floorplan/vehicles: status, VIN contains, aging
// min_days), a page at a time ("load more" follows next_cursor); the loaded cars sorted by days
// in stock on request. Redeemable cars can be selected and redeemed in one batch
// (POST /floorplan/redemptions, all or nothing) after a confirmation listing cars and amounts.
import { $, act, api, el, fill, label, money, param, start, t } from "/web/static/js/finedge.js";
import { REDEEMABLE, daysBadge, redeem, statusBadge, sum } from "/web/static/js/m/dealer/redeem.js";

const STATUSES = ["in_stock", "released_unpaid", "out_of_trust", "in_transit", "arrived", "redeemed", "released"];
const AGING = [30, 60, 90, 120, 180];
const SORTS = ["default", "oldest", "newest"];
const PAGE_SIZE = 50;

const state = { cars: [], cursor: null, selected: new Map(), query: {} };

function options(select, pairs, chosen) {
  fill(select, pairs.map(([value, words]) => el("option", { value, selected: value === chosen }, words)));
}

function setUpFilters() {
  const status = param("status") || "";
  options($("#f-status"), [["", t("common.all")], ...STATUSES.map((s) => [s, label(s, "dealer")])], status);
  options(
    $("#f-days"),
    [["", t("m.dealer.inventory.aging_any")], ...AGING.map((d) => [String(d), t("m.dealer.inventory.aging_min", { days: d })])],
    param("min_days") || "",
  );
  options($("#f-sort"), SORTS.map((s) => [s, t(`m.dealer.inventory.sort_${s}`)]), "default");
  $("#f-vin").value = param("vin") || "";
}

function readQuery() {
  // the API takes letters and digits only: spaces or dashes typed with a VIN are dropped
  const vin = $("#f-vin").value.toUpperCase().replace(/[^0-9A-Z]/g, "");
  return { status: $("#f-status").value, vin, min_days: $("#f-days").value };
}

function sorted(cars) {
  const how = $("#f-sort").value;
  if (how === "default") return cars;
  const sign = how === "oldest" ? -1 : 1;
  return [...cars].sort((a, b) => sign * (a.days_in_stock - b.days_in_stock));
}

function carItem(car) {
  const redeemable = REDEEMABLE.includes(car.status);
  const id = `pick-${car.vin}`;
  return el(
    "li.car",
    { dataset: { vin: car.vin, days: car.days_in_stock } },
    redeemable
      ? el(
          "span.pick",
          el("input", {
            type: "checkbox",
            id,
            checked: state.selected.has(car.vin),
            onchange: (event) => toggle(car, event.target.checked),
          }),
          el("label.sr-title", { for: id }, t("m.dealer.inventory.select", { vin: car.vin })),
        )
      : null,
    el(
      "a.item",
      { href: `/m/dealer/car?vin=${encodeURIComponent(car.vin)}` },
      el("strong.vin", car.vin),
      el("div.muted.small", car.model),
      el("div.row", statusBadge(car.status), car.pledged_at ? daysBadge(car.days_in_stock) : null),
    ),
    el("span.num", money(car.outstanding)),
  );
}

function draw() {
  const cars = sorted(state.cars);
  fill("#cars", cars.length ? cars.map(carItem) : el("li.muted.empty", t("m.dealer.inventory.none")));
  fill("#shown", t("m.dealer.inventory.shown", { count: state.cars.length }), $("#f-sort").value === "default" ? "" : ` ${t("m.dealer.inventory.sort_note")}`);
  $("#more").hidden = !state.cursor;
  drawSelection();
}

function drawSelection() {
  const picked = [...state.selected.values()];
  $("#selection").hidden = picked.length === 0;
  fill("#selected", t("m.dealer.inventory.selected", { count: picked.length, amount: money(sum(picked.map((c) => c.outstanding))) }));
}

function toggle(car, on) {
  if (on) state.selected.set(car.vin, car);
  else state.selected.delete(car.vin);
  drawSelection();
}

async function load({ more = false } = {}) {
  if (!more) {
    state.query = readQuery();
    state.cars = [];
    state.cursor = null;
  }
  const page = await api("GET", "/floorplan/vehicles", {
    query: { ...state.query, limit: PAGE_SIZE, cursor: more ? state.cursor : undefined },
  });
  state.cars.push(...page.items);
  state.cursor = page.next_cursor;
  draw();
}

async function redeemSelected() {
  const cars = [...state.selected.values()];
  if (!cars.length) return;
  const done = await redeem(cars, "#result");
  if (!done) return;
  state.selected.clear();
  const fresh = new Map(done.map((v) => [v.vin, v]));
  state.cars = state.cars.map((c) => fresh.get(c.vin) || c);
  draw();
  $("#result").scrollIntoView({ block: "start" });
}

start({ roles: ["dealer"] }, async () => {
  setUpFilters();
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.selected.clear();
    fill("#result");
    act(null, load);
  });
  $("#f-sort").addEventListener("change", draw);
  $("#more").addEventListener("click", (event) => act(event.currentTarget, () => load({ more: true })));
  $("#clear").addEventListener("click", () => {
    state.selected.clear();
    draw();
  });
  $("#redeem-selected").addEventListener("click", (event) => act(event.currentTarget, redeemSelected));
  await load();
});
