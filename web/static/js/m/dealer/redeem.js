// What the dealer's car and inventory pages share: the words for a car, and redeeming one car
// or several with a confirmation that lists each car and its amount, then the result per car.
// The API decides (POST /floorplan/vehicles/{vin}/redeem, POST /floorplan/redemptions): this
// only asks, sends and shows.
import { $, api, badge, el, errorText, fill, label, money, t } from "/web/static/js/finedge.js";

/** Statuses the API redeems (backend/floorplan/rules.py REDEEMABLE). */
export const REDEEMABLE = ["in_stock", "released_unpaid", "out_of_trust"];

const STATUS_KIND = { in_stock: "ok", redeemed: "weak", released_unpaid: "warn", out_of_trust: "bad" };

export function statusBadge(status) {
  return badge(label(status, "dealer"), STATUS_KIND[status] || "");
}

/** Days in stock, warned from the programme's first aging threshold (90 days). */
export function daysBadge(days) {
  const kind = days >= 180 ? "bad" : days >= 90 ? "warn" : "";
  return badge(t("m.dealer.days", { days }), kind);
}

/** A sum of the API's decimal strings, in fen (integers: no float rounding). */
export function sum(values) {
  const fen = values.reduce((acc, v) => {
    const [whole, frac = ""] = String(v || "0").replace("-", "").split(".");
    const sign = String(v || "").startsWith("-") ? -1n : 1n;
    return acc + sign * (BigInt(whole || "0") * 100n + BigInt((frac + "00").slice(0, 2)));
  }, 0n);
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  return `${negative ? "-" : ""}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

function dialog() {
  let box = $("#redeem-dialog");
  if (box) return box;
  box = el(
    "dialog.dialog",
    { id: "redeem-dialog", "aria-labelledby": "redeem-dialog-title" },
    el(
      "form",
      { method: "dialog" },
      el("h2", { id: "redeem-dialog-title" }, t("m.dealer.redeem.title")),
      el("ul.list.redeem-cars", { id: "redeem-cars" }),
      el("p", { id: "redeem-total" }),
      el(
        "fieldset.redeem-mode",
        el("legend", t("m.dealer.redeem.mode")),
        ["full", "margin"].map((mode) =>
          el(
            "label.choice",
            { for: `redeem-mode-${mode}` },
            el("input", { type: "radio", name: "mode", value: mode, id: `redeem-mode-${mode}`, checked: mode === "full" }),
            t(`m.dealer.redeem.mode_${mode}`),
          ),
        ),
      ),
      el(
        "div.row.end",
        el("button.btn.secondary", { value: "cancel" }, t("common.cancel")),
        el("button.btn.primary", { id: "redeem-ok", value: "ok" }, t("m.dealer.redeem.submit")),
      ),
    ),
  );
  document.body.append(box);
  return box;
}

/** Ask: the cars and their amounts, the mode. Resolves to "full" | "margin", or null. */
export function confirmRedeem(cars) {
  const box = dialog();
  fill(
    "#redeem-cars",
    cars.map((car) => el("li", el("span", el("strong", car.vin), el("span.sub.muted.small", car.model || "")), el("span.num", money(car.outstanding)))),
  );
  fill("#redeem-total", t("m.dealer.redeem.total", { count: cars.length, amount: money(sum(cars.map((c) => c.outstanding))) }));
  box.querySelector("#redeem-mode-full").checked = true;
  return new Promise((resolve) => {
    box.addEventListener(
      "close",
      () => resolve(box.returnValue === "ok" ? box.querySelector("input[name=mode]:checked").value : null),
      { once: true },
    );
    box.returnValue = "";
    box.showModal();
    box.querySelector("#redeem-ok").focus();
  });
}

/**
 * Redeem `cars` (one: the car's own endpoint; several: one all-or-nothing batch) after the
 * confirmation; the result per car goes into `target`. Resolves to the redeemed cars, or null.
 */
export async function redeem(cars, target) {
  const mode = await confirmRedeem(cars);
  if (!mode) return null;
  let redeemed;
  try {
    if (cars.length === 1) {
      redeemed = [await api("POST", `/floorplan/vehicles/${encodeURIComponent(cars[0].vin)}/redeem`, { body: { mode } })];
    } else {
      const batch = await api("POST", "/floorplan/redemptions", { body: { mode, vins: cars.map((c) => c.vin) } });
      redeemed = batch.vehicles;
    }
  } catch (error) {
    fill(
      target,
      el(
        "div.notice.redeem-failed",
        { role: "alert" },
        el("p", t("m.dealer.redeem.failed"), " ", errorText(error)),
        el("ul", cars.map((c) => el("li", c.vin))),
      ),
    );
    return null;
  }
  const repaid = sum(redeemed.map((v) => v.repaid));
  fill(
    target,
    el(
      "section.card.redeem-result",
      { role: "status" },
      el("h3", t("m.dealer.redeem.result")),
      el("p", t("m.dealer.redeem.done", { count: redeemed.length, amount: money(repaid) })),
      el(
        "ul.list",
        redeemed.map((v) =>
          el(
            "li",
            { dataset: { vin: v.vin } },
            el("a.item", { href: `/m/dealer/car?vin=${encodeURIComponent(v.vin)}` }, el("strong", v.vin)),
            statusBadge(v.status),
            el("span.small", t("m.dealer.redeem.repaid", { amount: money(v.repaid) }), " · ", label(v.redeem_mode, "dealer")),
          ),
        ),
      ),
    ),
  );
  return redeemed;
}
