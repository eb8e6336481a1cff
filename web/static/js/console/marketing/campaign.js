// One campaign from launch to its results (GET /marketing/campaigns/{id}): what it is, the power
// of its test (a draft: the preview and Launch), the arms per tier, contacts sent and refused by
// reason per channel, RM tasks by status and outcome, conversions per arm; then the evaluation
// (uplift with its interval, Qini, AUM growth, tier-up) drawn by the evaluation part's module
// when it is there (GET /marketing/campaigns/{id}/evaluation).
import { $, act, api, badge, el, fill, label, money, param, start, t, table } from "/web/static/js/finedge.js";
import { powerView } from "/web/static/js/marketing_power.js";

const K = (name, params) => t(`console.marketing.campaign.${name}`, params);
const L = (value) => label(value, "marketing_campaign");
const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);

function head(c, d) {
  return el(
    "dl.facts",
    el("dt", t("console.marketing.campaigns.code")),
    el("dd", c.code, " ", badge(L(c.status), c.status === "launched" ? "ok" : "")),
    el("dt", t("console.marketing.campaigns.name")),
    el("dd", c.name),
    el("dt", t("console.marketing.campaigns.target")),
    el("dd", L(c.target_indicator), c.product_code ? ` · ${c.product_code}` : ""),
    el("dt", K("segment")),
    el("dd", d.segment_name || "—"),
    el("dt", t("console.marketing.campaigns.window")),
    el("dd", `${c.starts_on} → ${c.ends_on}`),
    el("dt", t("console.marketing.campaigns.channels")),
    el("dd", c.channels.map(L).join(" · ")),
    el("dt", t("console.marketing.campaigns.budget")),
    el("dd", `${money(c.budget)} · ${t("console.marketing.campaigns.cost")} ${money(c.cost_per_contact)}`),
    el("dt", t("console.marketing.campaigns.sms_template")),
    el("dd", c.sms_template || "—"),
    el("dt", t("console.marketing.campaigns.script")),
    el("dd", c.script || "—"),
  );
}

function arms(d) {
  const order = ["mass", "affluent", "wealth", "private"];
  const rows = Object.entries(d.arms.tiers)
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([tier, a]) => [L(tier), a]);
  rows.push([K("total"), d.arms.total]);
  return table(
    [
      { label: K("tier"), value: ([tier]) => tier },
      { label: L("treatment"), class: "num", value: ([, a]) => String(a.treatment || 0) },
      { label: L("control"), class: "num", value: ([, a]) => String(a.control || 0) },
    ],
    rows,
  );
}

function contacts(d) {
  const rows = [];
  for (const [channel, counts] of Object.entries(d.contacts)) {
    for (const [what, n] of Object.entries(counts)) {
      const [status, reason] = what.split(":");
      rows.push({ channel, status, reason, n });
    }
  }
  return table(
    [
      { label: t("console.marketing.campaigns.channels"), value: (r) => L(r.channel) },
      { label: t("common.status"), value: (r) => badge(L(r.status), r.status === "sent" ? "ok" : r.status === "refused" ? "warn" : "") },
      { label: K("reason"), value: (r) => (r.reason ? L(r.reason) : "—") },
      { label: K("count"), class: "num", value: (r) => String(r.n) },
    ],
    rows,
  );
}

function tasks(d) {
  const part = (counts) => Object.entries(counts).map(([k, n]) => badge(`${L(k)} ${n}`));
  return el("div.row", ...part(d.tasks.by_status), ...part(d.tasks.by_outcome));
}

function conversions(d) {
  return table(
    [
      { label: K("kind"), value: ([kind]) => L(kind) },
      { label: L("treatment"), class: "num", value: ([, r]) => `${r.treatment} (${pct(r.treatment_rate)})` },
      { label: L("control"), class: "num", value: ([, r]) => `${r.control} (${pct(r.control_rate)})` },
      { label: K("difference"), class: "num", value: ([, r]) => (r.treatment_rate === null || r.control_rate === null ? "—" : pct(r.treatment_rate - r.control_rate)) },
    ],
    Object.entries(d.conversions),
  );
}

async function evaluation(id) {
  let module;
  try {
    // named at run time: the module is the evaluation part's, and may not be installed
    module = await import(["/web/static/js/console/marketing", "evaluation.js"].join("/"));
  } catch {
    return; // the evaluation part is not installed: the section keeps its note
  }
  const render = module.renderEvaluation || module.default;
  if (typeof render !== "function") return;
  try {
    const data = await api("GET", `/marketing/campaigns/${id}/evaluation`);
    render($("#evaluation"), data);
  } catch {
    // no evaluation yet (e.g. a draft): the note stays
  }
}

async function draw(id) {
  const d = await api("GET", `/marketing/campaigns/${id}`);
  const c = d.campaign;
  fill("#head", head(c, d));
  const report = c.status === "draft" ? await api("GET", `/marketing/campaigns/${id}/power`) : c.power;
  fill("#power", powerView(report));
  $("#launch").hidden = c.status !== "draft";
  fill("#arms", arms(d));
  fill("#contacts", contacts(d));
  fill("#tasks", tasks(d));
  fill("#conversions", conversions(d));
  if (c.status !== "draft") await evaluation(id);
}

start({ roles: ["marketing", "admin"] }, async () => {
  const id = Number(param("id"));
  if (!Number.isInteger(id) || id < 1) {
    fill("#head", el("p.notice", K("missing")));
    return;
  }
  $("#launch").addEventListener("click", (e) =>
    act(e.currentTarget, async () => {
      await api("POST", `/marketing/campaigns/${id}/launch`);
      await draw(id);
    }),
  );
  await draw(id);
});
