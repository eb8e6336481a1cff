// Dealer home: the credit line, margin and financed balance of the dealer's own summary
// (GET /floorplan/dealers/{org}/summary), cars by status and open alerts; live alerts refresh it.
import { api, el, fill, label, money, onLive, start, t, when } from "/web/static/js/finedge.js";

function figure(name, value) {
  return el("div.stat", el("div.name", name), el("div.value", value));
}

async function render(user) {
  const s = await api("GET", `/floorplan/dealers/${user.org_id}/summary`);
  fill(
    "#figures",
    figure(t("m.dealer.home.limit"), money(s.limit)),
    figure(t("m.dealer.home.available"), money(s.available)),
    figure(t("m.dealer.home.used"), money(s.used)),
    figure(t("m.dealer.home.margin"), money(s.margin)),
    figure(t("m.dealer.home.frozen"), money(s.frozen)),
    figure(t("m.dealer.home.free_margin"), money(s.free_margin)),
  );
  const cars = Object.entries(s.cars_by_status || {});
  fill(
    "#cars",
    cars.length
      ? el("ul.list", cars.map(([status, c]) => el("li", el("span", label(status)), el("strong", String(c.count ?? c)))))
      : el("p.muted", t("common.empty")),
  );
  const alerts = Object.entries(s.open_alerts || {});
  fill(
    "#alerts",
    alerts.length
      ? el("ul.list", alerts.map(([kind, n]) => el("li", el("span", label(kind)), el("span.badge.warn", String(n)))))
      : el("p.muted", t("m.dealer.home.no_alerts")),
  );
  fill("#as-of", t("m.dealer.home.as_of", { time: when(s.as_of) }));
}

start({ roles: ["dealer"] }, async (user) => {
  await render(user);
  await onLive("vehicle.alert", () => render(user));
});
