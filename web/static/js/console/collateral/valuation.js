// An ad-hoc valuation (POST /collateral/valuations with the facts): the value, its range, the
// confidence (the forecast SD from held-out residuals), the blend of methods and the itemised
// breakdown a credit officer reads: the community's base price × area, then the floor,
// orientation, age, size and decoration corrections. ?property=<id> starts from a registered
// property's facts. Cities and communities of the register are offered as suggestions.
import { $, act, api, fill, label, param, start, t } from "/web/static/js/finedge.js";
import { factFields, readFacts, suggest, valuationView, writeFacts } from "/web/static/js/collateral.js";

const K = (name, params) => t(`console.collateral.valuation.${name}`, params);
const L = (value) => label(value, "collateral_registry");

start({ roles: ["rm", "approver", "admin"] }, async () => {
  fill("#v-facts", factFields("v", K, L));
  $("#valuation-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, async () => {
      const v = await api("POST", "/collateral/valuations", { body: readFacts("v") });
      fill("#result", valuationView(v, K, L));
    });
  });
  const known = await api("GET", "/collateral/properties", { query: { limit: 200 } });
  suggest("v", known.items);
  const from = Number(param("property")) || known.items[0]?.id;
  if (from) writeFacts("v", await api("GET", `/collateral/properties/${from}`));
});
