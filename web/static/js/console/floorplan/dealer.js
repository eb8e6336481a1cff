// One dealer, for the bank: its summary (GET /floorplan/dealers/{id}/summary), its cars by
// status with days in stock (GET /floorplan/vehicles?dealer_id=), open alerts (bank staff may
// resolve them), bills and the audits of its yards. ?id=<dealer org id>.
import { act, all, api, badge, confirm, el, fill, money, onLive, param, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { figure, fpBadge } from "/web/static/js/floorplan.js";

const K = (name) => t(`console.floorplan.dealer.${name}`);
const STATUSES = ["in_transit", "arrived", "in_stock", "released_unpaid", "out_of_trust", "redeemed", "released"];
let dealerId = null;
let carStatus = "in_stock";
let thresholds = [90, 120, 180];

function days(v) {
  if (!v.pledged_at) return "—";
  const n = v.days_in_stock ?? 0;
  const reached = thresholds.filter((d) => n >= d).length;
  if (!reached || !["in_stock", "released_unpaid", "out_of_trust"].includes(v.status)) return String(n);
  return badge(String(n), ["weak", "medium", "strong"][Math.min(reached, 3) - 1]);
}

async function summary() {
  const s = await api("GET", `/floorplan/dealers/${dealerId}/summary`);
  fill("#dealer-name", `${s.dealer_code} · ${s.dealer_name}`, " ", s.credit_line ? fpBadge(s.credit_line.status) : "");
  fill(
    "#figures",
    figure(K("limit"), money(s.limit), "fig-limit"),
    figure(K("used"), money(s.used), "fig-used"),
    figure(K("available"), money(s.available), "fig-available"),
    figure(K("margin"), money(s.margin)),
    figure(K("frozen"), money(s.frozen)),
    figure(K("free_margin"), money(s.free_margin)),
    figure(K("required_margin"), money(s.required_margin)),
    figure(K("deposit"), money(s.deposit)),
    figure(K("advance"), money(s.advance_outstanding)),
    figure(K("rbr"), `${money(s.rbr_used)} / ${money(s.rbr_limit)}`),
  );
  const tabs = STATUSES.map((status) => {
    const n = s.cars_by_status?.[status]?.count ?? 0;
    return el(
      "button",
      {
        type: "button",
        role: "tab",
        "aria-selected": status === carStatus ? "true" : "false",
        dataset: { status },
        onclick: () => {
          carStatus = status;
          summary().then(cars);
        },
      },
      `${fpBadge(status).textContent} ${n}`,
    );
  });
  fill("#car-tabs", tabs);
}

async function cars() {
  const rows = await all("/floorplan/vehicles", { dealer_id: dealerId, status: carStatus });
  fill(
    "#cars",
    table(
      [
        { label: K("vin"), class: "vin", value: (v) => v.vin },
        { label: K("model"), value: (v) => v.model },
        { label: t("common.status"), value: (v) => fpBadge(v.status) },
        { label: K("price"), class: "num", value: (v) => money(v.price) },
        { label: K("outstanding"), class: "num", value: (v) => money(v.outstanding) },
        { label: K("days"), class: "num days", value: days },
        { label: K("repay_by"), value: (v) => when(v.repay_by) },
        { label: K("curtailment"), value: (v) => (v.curtailment_status ? fpBadge(v.curtailment_status) : "—") },
      ],
      rows,
    ),
  );
}

async function alerts() {
  const rows = (await all("/floorplan/alerts", { dealer_id: dealerId })).filter((a) => a.status !== "resolved");
  fill(
    "#alerts",
    table(
      [
        { label: K("severity"), value: (a) => fpBadge(a.severity) },
        { label: K("kind"), value: (a) => fpBadge(a.kind) },
        { label: K("vin"), value: (a) => a.vin || "—" },
        { label: K("message"), value: (a) => a.message },
        { label: t("common.status"), value: (a) => fpBadge(a.status) },
        { label: K("last_seen"), value: (a) => when(a.last_seen_at) },
        {
          label: t("common.actions"),
          value: (a) =>
            el(
              "button.btn.small.secondary",
              {
                type: "button",
                onclick: async (event) => {
                  if (!(await confirm(K("resolve_q")))) return;
                  const done = await act(event.currentTarget, () => api("POST", `/floorplan/alerts/${a.id}/resolve`, { body: {} }));
                  if (done) {
                    toast(K("resolved"), "ok");
                    await Promise.all([summary(), alerts()]);
                  }
                },
              },
              K("resolve"),
            ),
        },
      ],
      rows,
    ),
  );
}

async function bills() {
  const rows = await all("/floorplan/bills", { dealer_id: dealerId });
  fill(
    "#bills",
    table(
      [
        { label: K("bill_no"), value: (b) => b.bill_no },
        { label: t("common.status"), value: (b) => fpBadge(b.status) },
        { label: t("common.amount"), class: "num", value: (b) => money(b.amount) },
        { label: K("outstanding"), class: "num", value: (b) => money(b.outstanding) },
        { label: K("issue_date"), value: (b) => b.issue_date || "—" },
        { label: K("maturity"), value: (b) => b.maturity_date || "—" },
      ],
      rows,
    ),
  );
}

async function audits() {
  const yards = (await all("/floorplan/warehouses")).filter((w) => w.dealer_id === dealerId);
  const lists = await Promise.all(yards.map((w) => all("/floorplan/audits", { warehouse_id: w.id })));
  const rows = lists.flat().sort((a, b) => b.id - a.id);
  fill(
    "#audits",
    table(
      [
        { label: "#", value: (a) => String(a.id) },
        { label: t("common.status"), value: (a) => fpBadge(a.status) },
        { label: K("tier"), value: (a) => fpBadge(a.risk_tier) },
        { label: K("opened"), value: (a) => `${when(a.opened_at)} · ${a.opened_by}` },
        {
          label: K("counts"),
          value: (a) => `${a.expected_count} / ${a.present_count} / ${a.missing_count} / ${a.mismatch_count} / ${a.extra_count}`,
        },
      ],
      rows,
    ),
  );
}

async function programmeThresholds() {
  // the aging thresholds of the dealer's programme (90 / 120 / 180 days by default)
  const line = (await all("/floorplan/credit-lines")).find((l) => l.dealer_id === dealerId);
  const programme = (await all("/floorplan/programmes")).find((p) => p.id === line?.programme_id);
  if (programme?.aging_days?.length) thresholds = [...programme.aging_days].sort((a, b) => a - b);
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  dealerId = Number(param("id"));
  if (!dealerId) {
    fill("#dealer-name", el("p.notice", K("no_id")));
    return;
  }
  await programmeThresholds();
  await summary();
  await Promise.all([cars(), alerts(), bills(), audits()]);
  await onLive("vehicle.alert", (a) => {
    if (a.dealer_id === dealerId) Promise.all([summary(), alerts()]).catch(() => {});
  });
});
