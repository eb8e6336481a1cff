// The unified risk view of one enterprise (?id=): GET /risk/enterprises/{id}/view (profile,
// blocking, tags, active signals with the maker's steps, events by source, where sources
// disagree, graph summary, model score) and its events (GET /risk/enterprises/{id}/events,
// paged, by source). Live: a `risk.signal` of this enterprise reloads the view.
import { $, act, api, badge, el, fill, label, money, onLive, param, start, t, table, when } from "/web/static/js/finedge.js";
import { enterpriseUrl, graphUrl, levelBadge, makerButtons, signalColumns } from "/web/static/js/console/risk/shared.js";

const id = param("id");
let eventCursor = null;

function kv(pairs) {
  return pairs.filter(Boolean).flatMap(([name, value]) => [el("dt", name), el("dd", value ?? "—")]);
}

function percent(x) {
  return x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`;
}

function drawProfile(view) {
  const e = view.enterprise;
  fill("#ent-name", e.name, " ", levelBadge(e.risk_level));
  $("#blocking").hidden = !view.blocking;
  fill(
    "#profile",
    kv([
      [t("console.risk.enterprise.credit_code"), e.credit_code],
      [t("common.status"), label(e.status, "risk")],
      [t("console.risk.enterprise.industry"), e.industry ? label(e.industry, "risk_industry") : null],
      [t("console.risk.enterprise.region"), e.region],
      [t("console.risk.enterprise.capital"), money(e.registered_capital)],
      [t("console.risk.enterprise.established"), e.established_on],
      [t("console.risk.enterprise.risk_level"), levelBadge(e.risk_level)],
      view.model ? [t("console.risk.enterprise.model_score"), `${percent(view.model.probability)} (${view.model.name} v${view.model.version})`] : null,
    ]),
  );
}

function drawTags(tags) {
  fill(
    "#tags",
    tags.length
      ? tags.map((tag) =>
          el(
            "li",
            badge(tag.code === "operating_status" ? label(tag.evidence?.status, "risk") : label(tag.code, "risk_tag"), tag.code === "operating_status" && tag.evidence?.status !== "in_business" ? "bad" : ""),
            " ",
            el("span.muted.small", tag.reason),
          ),
        )
      : el("li.muted", t("console.risk.common.none")),
  );
}

function enterpriseList(items) {
  return items.length ? el("span", items.map((m, i) => [i ? "、" : "", el("a", { href: enterpriseUrl(m.id) }, m.name || `#${m.id}`)])) : t("console.risk.common.none");
}

function drawGraph(g) {
  const kinds = Object.entries(g.edges_by_kind || {});
  const controller = g.ultimate_controller;
  fill(
    "#graph-summary",
    kv([
      [t("console.risk.enterprise.edges_by_kind"), kinds.length ? el("span", kinds.map(([k, n]) => [badge(`${label(k, "risk")} ${n}`), " "])) : t("console.risk.common.none")],
      [t("console.risk.enterprise.related_2hop"), String(g.related_within_2_hops ?? "—")],
      [t("console.risk.enterprise.related_risk"), g.related_risk === null || g.related_risk === undefined ? "—" : g.related_risk.toFixed(2)],
      [
        t("console.risk.enterprise.circle"),
        g.guarantee_circle?.size
          ? el("span", badge(t("console.risk.enterprise.circle_size", { size: g.guarantee_circle.size }), "bad"), " ", enterpriseList(g.guarantee_circle.members))
          : t("console.risk.common.none"),
      ],
      [t("console.risk.enterprise.mutual"), enterpriseList(g.mutual_guarantees || [])],
      [
        t("console.risk.enterprise.controller"),
        controller
          ? el("span", `${controller.name} (${label(controller.type, "risk")}) `, el("span.muted", t("console.risk.enterprise.share", { share: percent(controller.share) })))
          : t("console.risk.common.none"),
      ],
    ]),
  );
}

function drawDifferences(diffs) {
  if (!diffs.length) return fill("#differences", el("p.muted", t("console.risk.enterprise.no_differences")));
  fill(
    "#differences",
    el(
      "table.table.risk-diff",
      el(
        "thead",
        el("tr", [t("console.risk.enterprise.attribute"), t("console.risk.enterprise.source"), t("console.risk.enterprise.value"), t("console.risk.enterprise.source_time")].map((h) => el("th", { scope: "col" }, h))),
      ),
      diffs.map((d) =>
        el(
          "tbody",
          d.values.map((v, i) =>
            el(
              "tr",
              { class: v.source === "registry" ? "risk-master" : "risk-differs" },
              i === 0 ? el("th", { scope: "rowgroup", rowspan: String(d.values.length) }, label(d.attribute, "risk")) : null,
              el("td", label(v.source, "risk")),
              el("td", d.attribute === "registered_capital" ? money(v.value) : d.attribute === "status" ? label(v.value, "risk") : v.value),
              el("td", when(v.source_time)),
            ),
          ),
        ),
      ),
    ),
  );
}

function drawSources(sources) {
  const select = $("#event-source");
  const chosen = select.value;
  fill(select, el("option", { value: "" }, t("console.risk.enterprise.all_sources")), sources.map((s) => el("option", { value: s.source }, label(s.source, "risk"))));
  select.value = chosen;
  fill(
    "#sources",
    sources.length
      ? sources.map((s) =>
          el(
            "div.stat",
            el("div.name", label(s.source, "risk")),
            el("div.value", t("console.risk.enterprise.events_count", { count: s.count, latest: when(s.latest, { time: false }) })),
            el("div.small.muted", Object.entries(s.categories).map(([c, n]) => `${label(c, "risk")} ${n}`).join(" · ")),
          ),
        )
      : el("p.muted", t("common.empty")),
  );
}

async function loadEvents(reset) {
  const data = await api("GET", `/risk/enterprises/${id}/events`, { query: { source: $("#event-source").value, limit: 20, cursor: reset ? undefined : eventCursor } });
  eventCursor = data.next_cursor;
  const columns = [
    { label: t("common.time"), value: (e) => when(e.source_time) },
    { label: t("console.risk.enterprise.source"), value: (e) => label(e.source, "risk") },
    { label: t("console.risk.enterprise.kind"), value: (e) => [label(e.category, "risk"), " ", el("code.small", e.kind)] },
    { label: t("console.risk.enterprise.severity"), value: (e) => badge(label(e.severity, "risk_severity"), { critical: "hard", high: "strong", medium: "medium" }[e.severity] || "") },
    { label: t("console.risk.enterprise.title_col"), value: (e) => e.title || "—" },
  ];
  const box = $("#events");
  const tbody = box.querySelector("tbody");
  if (!reset && tbody) {
    const more = table(columns, data.items).querySelector?.("tbody");
    if (more) tbody.append(...more.children);
  } else {
    fill(box, table(columns, data.items));
  }
  $("#more-events").hidden = !eventCursor;
}

async function load() {
  const view = await api("GET", `/risk/enterprises/${id}/view`);
  drawProfile(view);
  drawTags(view.tags);
  drawGraph(view.graph);
  drawDifferences(view.source_differences);
  fill("#signals", table(signalColumns({ enterprise: false, actions: (s) => makerButtons(s, () => act(null, load)) }), view.signals));
  drawSources(view.events_by_source);
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  if (!id) {
    fill("#main", el("p.notice", t("console.risk.enterprise.missing_id")), el("a.btn.primary", { href: "/console/risk/signals" }, t("console.risk.signals.title")));
    return;
  }
  $("#to-graph").href = graphUrl(id);
  $("#to-signals").href = `/console/risk/signals?enterprise_id=${encodeURIComponent(id)}&status=all`;
  await load();
  await loadEvents(true);
  $("#event-source").addEventListener("change", () => act(null, () => loadEvents(true)));
  $("#more-events").addEventListener("click", (event) => act(event.currentTarget, () => loadEvents(false)));
  await onLive("risk.signal", (s) => {
    if (String(s.enterprise_id) === String(id)) act(null, load);
  });
});
