// What the floor-plan pages share (console/floorplan/*, m/supervisor/*, m/oem/*): badges for the
// API's floor-plan values (words from enum.floorplan.*), figures, ratios and sums of money kept
// exact (decimal strings, never floats).
import { badge, el, label, t } from "/web/static/js/finedge.js";

const KINDS = {
  in_stock: "ok",
  released: "ok",
  settled: "ok",
  active: "ok",
  approved: "ok",
  present: "ok",
  received: "ok",
  redeemed: "weak",
  arrived: "weak",
  in_transit: "weak",
  issued: "weak",
  shipped: "weak",
  pending: "warn",
  requested: "warn",
  open: "warn",
  released_unpaid: "strong",
  overdue: "bad",
  rejected: "bad",
  suspended: "bad",
  mismatch: "strong",
  extra: "medium",
  missing: "hard",
  out_of_trust: "hard",
  hard: "hard",
  strong: "strong",
  medium: "medium",
  weak: "weak",
};

/** A badge for a floor-plan value: its words and a colour by what it means. */
export function fpBadge(value) {
  return badge(label(value, "floorplan"), KINDS[value] || "");
}

export function figure(name, value, id) {
  return el("div.stat", { id }, el("div.name", name), el("div.value", value));
}

/** A ratio as the API sends it ("0.4523") shown as a percentage ("45.23%"). */
export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "—";
  const [whole, frac = ""] = String(ratio).split(".");
  const bp = Number(whole) * 10000 + Number((frac + "0000").slice(0, 4));
  return `${(bp / 100).toFixed(2)}%`;
}

function toFen(value) {
  const text = String(value || "0").trim();
  const [whole, frac = ""] = text.replace("-", "").split(".");
  const n = BigInt(whole || "0") * 100n + BigInt((frac + "00").slice(0, 2));
  return text.startsWith("-") ? -n : n;
}

/** The sum of decimal money strings, as a decimal string (added in fen). */
export function sumMoney(values) {
  const fen = values.reduce((total, v) => total + toFen(v), 0n);
  const abs = fen < 0n ? -fen : fen;
  return `${fen < 0n ? "-" : ""}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

/** A money string the user typed, checked: "123", "123.4", "123.45" (else null). */
export function moneyInput(text) {
  const value = String(text || "").replaceAll(",", "").trim();
  return /^\d+(\.\d{1,2})?$/.test(value) ? value : null;
}

/** A list of `items` drawn by `item` (each an <li>), or the words for an empty list. */
export function listOf(items, item, className = "") {
  return items.length ? el(`ul.list${className}`, items.map(item)) : el("p.muted", t("common.empty"));
}
