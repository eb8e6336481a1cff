// One campaign task (GET /marketing/tasks/{id}): the client's summary (tier, AUM, products and
// their maturities, consent per channel, do-not-disturb hours), the campaign's script, and the
// outcome form (POST /marketing/tasks/{id}/outcome: reached, not reached, interested, declined,
// converted; an opportunity flag; a note).
import { $, act, api, badge, el, fill, label, money, param, start, t, toast } from "/web/static/js/finedge.js";

const L = (value) => label(value, "marketing_campaign");
const OUTCOMES = ["reached", "not_reached", "interested", "declined", "converted"];

function client(c) {
  return el(
    "div",
    el("div.row", el("strong", c.name), badge(L(c.tier)), el("span.muted.small", c.client_no)),
    el("div", t("m.rm.task.aum", { aum: money(c.aum) })),
    c.dnd_from ? el("p.notice.small", t("m.rm.task.dnd", { from: c.dnd_from, to: c.dnd_to })) : null,
    el("div.row.small", ...Object.entries(c.consents).map(([ch, ok]) => badge(`${L(ch)} ${ok ? "✓" : "✗"}`, ok ? "ok" : "warn"))),
    el(
      "ul.list.small",
      c.holdings.map((h) => el("li", `${h.product_name} · ${money(h.amount)}`, h.matures_on ? ` · ${t("m.rm.task.matures", { on: h.matures_on })}` : "")),
    ),
  );
}

function done(task) {
  $("#outcome-form").hidden = true;
  $("#done").hidden = false;
  fill("#done", el("div.row", badge(L(task.outcome), "ok"), task.opportunity ? badge(t("m.rm.task.opportunity")) : null), task.note ? el("p.small", task.note) : null);
}

start({ roles: ["rm", "marketing", "admin"] }, async () => {
  const id = Number(param("id"));
  if (!Number.isInteger(id) || id < 1) {
    fill("#client", el("p.notice", t("m.rm.task.missing")));
    return;
  }
  const d = await api("GET", `/marketing/tasks/${id}`);
  fill("#client", client(d.client));
  fill("#script", el("p", el("strong", d.campaign.name)), el("p", d.campaign.script || "—"));
  fill("#o-outcome", OUTCOMES.map((o) => el("option", { value: o }, L(o))));
  if (d.task.status !== "open") done(d.task);
  $("#outcome-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { outcome: $("#o-outcome").value, opportunity: $("#o-opportunity").checked, note: $("#o-note").value };
    const saved = await act(event.submitter, () => api("POST", `/marketing/tasks/${id}/outcome`, { body }));
    if (saved) {
      toast(t("m.rm.task.saved"), "ok");
      done(saved);
    }
  });
});
