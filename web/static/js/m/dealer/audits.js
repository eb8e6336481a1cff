// Inventory audits of the dealer's yards (GET /floorplan/audits, newest first) with their counts,
// and one audit's car-by-car results on tap (GET /floorplan/audits/{id}).
import { $, act, api, badge, el, fill, label, start, t, when } from "/web/static/js/finedge.js";

const RESULT_KIND = { present: "ok", pending: "", missing: "bad", mismatch: "strong", extra: "warn" };
const state = { cursor: null, items: [] };

function counts(a) {
  return t("m.dealer.audits.counts", {
    expected: a.expected_count,
    present: a.present_count,
    missing: a.missing_count,
    mismatch: a.mismatch_count,
    extra: a.extra_count,
  });
}

function fact(name, value) {
  return [el("dt", name), el("dd", value)];
}

async function show(id) {
  const a = await api("GET", `/floorplan/audits/${id}`);
  fill(
    "#detail",
    el(
      "section.card.audit-detail",
      { "aria-labelledby": "audit-h", tabindex: "-1" },
      el("div.row.between", el("h2", { id: "audit-h" }, `#${a.id} · ${t("m.dealer.audits.yard", { id: a.warehouse_id })}`), badge(label(`audit_${a.status}`, "dealer"))),
      el(
        "dl.kv",
        fact(t("m.dealer.audits.trigger"), label(a.trigger, "dealer")),
        fact(t("m.dealer.audits.risk_tier"), label(a.risk_tier, "dealer")),
        fact(t("m.dealer.audits.sample"), `${(Number(a.sample_ratio) * 100).toFixed(0)}%`),
        fact(t("m.dealer.audits.opened_at"), when(a.opened_at)),
        fact(t("m.dealer.audits.closed_at"), when(a.closed_at)),
      ),
      el("p", counts(a)),
      el("h3", t("m.dealer.audits.checks")),
      a.checks.length
        ? el(
            "ul.list.checks",
            a.checks.map((c) =>
              el(
                "li",
                { dataset: { vin: c.vin } },
                el(
                  "span.item",
                  el("a", { href: `/m/dealer/car?vin=${encodeURIComponent(c.vin)}` }, c.vin),
                  el("span.sub.muted.small", c.checked_at ? `${t("m.dealer.audits.checked_at")} ${when(c.checked_at)}` : "", c.location ? ` · ${c.location}` : ""),
                ),
                badge(label(c.result, "dealer"), RESULT_KIND[c.result] || ""),
              ),
            ),
          )
        : el("p.muted", t("common.empty")),
    ),
  );
  $("#detail section").focus();
}

function item(a) {
  return el(
    "li",
    { dataset: { id: a.id } },
    el(
      "button.link.item.audit",
      { type: "button", "aria-label": t("m.dealer.audits.show", { id: a.id }), onclick: (e) => act(e.currentTarget, () => show(a.id)) },
      el("strong", `#${a.id} · ${when(a.opened_at)}`),
      el("span.sub.muted.small", counts(a)),
    ),
    badge(label(`audit_${a.status}`, "dealer"), a.status === "open" ? "warn" : a.missing_count || a.mismatch_count ? "bad" : "ok"),
  );
}

async function load(more = false) {
  const page = await api("GET", "/floorplan/audits", { query: { limit: 50, cursor: more ? state.cursor : undefined } });
  state.items.push(...page.items);
  state.cursor = page.next_cursor;
  fill("#audits", state.items.length ? state.items.map(item) : el("li.muted.empty", t("common.empty")));
  $("#more").hidden = !state.cursor;
}

start({ roles: ["dealer"] }, async () => {
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => load(true)));
  await load();
});
