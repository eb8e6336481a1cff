// The power report of a campaign's test (GET /marketing/campaigns/{id}/power, or the one stored
// at launch): the overall and per-tier arms, the power to detect the target uplift and the MDE
// at 80% power. Shared by the campaigns list (draft preview) and the campaign page.
import { el, label, t, table } from "/web/static/js/finedge.js";

const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);

export function powerView(report) {
  if (!report || !report.overall) return el("p.muted", t("console.marketing.power.none"));
  const L = (value) => label(value, "marketing_campaign");
  const rows = [[t("console.marketing.power.overall"), report.overall], ...(report.tiers || []).map((r) => [L(r.tier), r])];
  return el(
    "div",
    el(
      "p.small",
      t("console.marketing.power.summary", {
        baseline: pct(report.baseline_rate),
        uplift: pct(report.target_uplift),
        power: pct(report.overall.power),
        mde: pct(report.overall.mde),
      }),
    ),
    el("p.small.muted", t("console.marketing.power.baseline_from", { source: L(report.baseline_source) })),
    table(
      [
        { label: t("console.marketing.power.stratum"), value: ([name]) => name },
        { label: t("console.marketing.power.treatment"), class: "num", value: ([, r]) => String(r.treatment) },
        { label: t("console.marketing.power.control"), class: "num", value: ([, r]) => String(r.control) },
        { label: t("console.marketing.power.power"), class: "num", value: ([, r]) => pct(r.power) },
        { label: t("console.marketing.power.mde"), class: "num", value: ([, r]) => pct(r.mde) },
      ],
      rows,
    ),
  );
}
