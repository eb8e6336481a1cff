// One of the dealer's cars (GET /floorplan/vehicles/{vin}): amounts, days in stock, certificate,
// curtailment; "redeem" repays it (POST /floorplan/vehicles/{vin}/redeem, mode full or margin)
// after a confirmation. A car that is not the dealer's is 404 for the API: the page says so and
// shows nothing of it.
import { $, ApiError, act, api, el, fill, label, money, param, start, t, when } from "/web/static/js/finedge.js";
import { REDEEMABLE, redeem, statusBadge } from "/web/static/js/m/dealer/redeem.js";

function fact(name, value) {
  return [el("dt", name), el("dd", value)];
}

function draw(car) {
  $("#car").hidden = false;
  fill("#car-vin", car.vin);
  fill("#car-status", statusBadge(car.status));
  fill("#car-model", car.model);
  const c = car.curtailment;
  fill(
    "#car-facts",
    fact(t("m.dealer.car.price"), money(car.price)),
    fact(t("m.dealer.outstanding"), el("strong", { id: "car-outstanding" }, money(car.outstanding))),
    fact(t("m.dealer.car.repaid"), money(car.repaid)),
    fact(t("m.dealer.car.margin_held"), money(car.margin_held)),
    fact(t("m.dealer.car.margin_applied"), money(car.margin_applied)),
    car.advanced && car.advanced !== "0.00" ? fact(t("m.dealer.car.advanced"), money(car.advanced)) : null,
    fact(t("m.dealer.car.days_in_stock"), String(car.days_in_stock)),
    fact(t("m.dealer.car.certificate"), `${car.certificate_no} · ${label(car.certificate_status, "dealer")}`),
    fact(t("m.dealer.car.location"), car.location || "—"),
    fact(t("m.dealer.car.shipped_at"), when(car.shipped_at)),
    fact(t("m.dealer.car.pledged_at"), when(car.pledged_at)),
    car.redeemed_at ? fact(t("m.dealer.car.redeemed_at"), when(car.redeemed_at)) : null,
    car.redeem_mode ? fact(t("m.dealer.car.redeem_mode"), label(car.redeem_mode, "dealer")) : null,
    car.released_at ? fact(t("m.dealer.car.released_at"), when(car.released_at)) : null,
    car.repay_by ? fact(t("m.dealer.car.repay_by"), when(car.repay_by)) : null,
    fact(t("m.dealer.car.bill"), el("a", { href: `/m/dealer/bills?id=${car.bill_id}` }, `#${car.bill_id}`)),
    c
      ? fact(
          t("m.dealer.car.curtailment"),
          t("m.dealer.car.curtailment_line", { amount: money(c.amount), status: label(c.status, "dealer"), due: when(c.due_at, { time: false }) }),
        )
      : null,
  );
  const redeemable = REDEEMABLE.includes(car.status);
  $("#car-actions").hidden = !redeemable;
  $("#not-redeemable").hidden = redeemable;
}

async function load(vin) {
  try {
    return await api("GET", `/floorplan/vehicles/${encodeURIComponent(vin)}`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) return null;
    throw error;
  }
}

start({ roles: ["dealer"] }, async () => {
  const vin = (param("vin") || "").trim().toUpperCase();
  const car = vin ? await load(vin) : null;
  if (!car) {
    $("#not-found").hidden = false;
    return;
  }
  draw(car);
  $("#redeem").addEventListener("click", (event) =>
    act(event.currentTarget, async () => {
      const done = await redeem([car], "#result");
      if (done) draw(await api("GET", `/floorplan/vehicles/${encodeURIComponent(vin)}`));
    }),
  );
});
