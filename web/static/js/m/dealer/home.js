// Dealer home: the credit line, margin and financed balance of the dealer's own summary
// (GET /floorplan/dealers/{org}/summary), cars by status and open alerts; live alerts refresh it.
import { api, badge, el, fill, label, money, onLive, start, t, when } from "/web/static/js/finedge.js";

function figure(key, name, value) {
  return el("div.stat", { dataset: { figure: key } }, el("div.name", name), el("div.value", value));
}

async function render(user) {
  const s = await api("GET", `/floorplan/dealers/${user.org_id}/summary`);
  fill(
    "#figures",
    figure("limit", t("m.dealer.home.limit"), money(s.limit)),
    figure("available", t("m.dealer.home.available"), money(s.available)),
    figure("used", t("m.dealer.home.used"), money(s.used)),
    figure("margin", t("m.dealer.home.margin"), money(s.margin)),
    figure("frozen", t("m.dealer.home.frozen"), money(s.frozen)),
    figure("free_margin", t("m.dealer.home.free_margin"), money(s.free_margin)),
  );
  const cars = Object.entries(s.cars_by_status || {});
  fill(
    "#cars",
    cars.length
      ? el(
          "ul.list",
          cars.map(([status, c]) =>
            el(
              "li",
              el("a.item", { href: `/m/dealer/inventory?status=${encodeURIComponent(status)}` }, label(status, "dealer")),
              el("span", el("strong", t("m.dealer.home.count", { count: c.count })), " ", el("span.muted.small", money(c.financed))),
            ),
          ),
        )
      : el("p.muted", t("common.empty")),
  );
  const alerts = Object.entries(s.open_alerts || {});
  fill(
    "#alerts",
    alerts.length
      ? el("ul.list", alerts.map(([severity, n]) => el("li", el("span", label(severity, "dealer")), badge(String(n), severity))))
      : el("p.muted", t("m.dealer.home.no_alerts")),
  );
  fill("#as-of", t("m.dealer.home.as_of", { time: when(s.as_of) }));
}

start({ roles: ["dealer"] }, async (user) => {
  await render(user);
  await onLive("vehicle.alert", () => render(user));
});
