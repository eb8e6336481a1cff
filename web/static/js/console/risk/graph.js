// The knowledge graph of one enterprise (?id=&depth=), drawn with ECharts (the vendored
// classic script defines the global `echarts`): GET /risk/enterprises/{id}/graph gives the
// nodes (enterprises, persons) and edges within the depth, the guarantee circle and the ultimate
// controller. Nodes are coloured by the relation that links them in (the legend's categories:
// equity, investment, executives, groups, guarantees, trades), the circle's guarantees are thick
// red lines and its members ringed, the controller is a diamond. Pan and zoom (roam); clicking
// a node (or choosing it in the list) shows its details and, for an enterprise, fetches its own
// graph and merges it in. Names are drawn as canvas text, never as HTML.
/* global echarts */
import { $, api, badge, el, errorText, fill, label, money, param, start, t, toast } from "/web/static/js/finedge.js";
import { enterpriseUrl, levelBadge } from "/web/static/js/console/risk/shared.js";

const KINDS = ["equity", "investment", "executive", "group", "guarantee", "trade"];
const COLOURS = { self: "#111827", equity: "#2563eb", investment: "#7c3aed", executive: "#0d9488", group: "#ca8a04", guarantee: "#dc2626", trade: "#64748b" };
const CATEGORIES = ["self", ...KINDS];

const rootId = param("id");
const root = `enterprise:${rootId}`;
const nodes = new Map();
const edges = new Map();
const circle = new Set();
const expanded = new Set();
let controller = null;
let chart = null;

function categoryName(category) {
  return category === "self" ? t("console.risk.graph.self") : label(category, "risk");
}

/** Add a graph's nodes and edges; a new node's hop counts from the root through `base`. */
function merge(graph, base = 0) {
  let added = 0;
  for (const node of graph.nodes) {
    if (nodes.has(node.id)) continue;
    added += 1;
    nodes.set(node.id, { ...node, hop: node.hop === null || node.hop === undefined ? null : base + node.hop });
  }
  for (const edge of graph.edges) edges.set(edge.id, edge);
  for (const member of graph.guarantee_circle || []) circle.add(`enterprise:${member}`);
  return added;
}

/** Each node's category: the kind of the edge that first reaches it from the root (BFS). */
function categories() {
  const around = new Map();
  for (const e of edges.values()) {
    for (const [a, b] of [[e.source, e.target], [e.target, e.source]]) {
      if (!around.has(a)) around.set(a, []);
      around.get(a).push([b, e.kind]);
    }
  }
  const found = new Map([[root, "self"]]);
  let frontier = [root];
  while (frontier.length) {
    const next = [];
    for (const node of frontier) {
      for (const [other, kind] of around.get(node) || []) {
        if (!found.has(other)) {
          found.set(other, kind);
          next.push(other);
        }
      }
    }
    frontier = next;
  }
  return found;
}

function inCircleEdge(e) {
  return e.kind === "guarantee" && circle.has(e.source) && circle.has(e.target);
}

function draw() {
  const found = categories();
  const data = [...nodes.values()].map((n) => {
    const category = found.get(n.id) || "self";
    const isController = controller && controller.node === n.id;
    const isRoot = n.id === root;
    return {
      id: n.id,
      name: n.name || n.id,
      category: CATEGORIES.indexOf(category),
      symbol: isController ? "diamond" : n.type === "person" ? "roundRect" : "circle",
      symbolSize: isRoot ? 46 : isController ? 34 : n.type === "person" ? 18 : 26,
      itemStyle: circle.has(n.id) ? { borderColor: "#b91c1c", borderWidth: 4 } : isController ? { borderColor: "#111827", borderWidth: 3 } : undefined,
      label: { show: isRoot || isController || n.type === "enterprise", fontWeight: isRoot || isController ? "bold" : "normal" },
      value: n.risk_level ? label(n.risk_level, "risk") : label(n.type, "risk"),
    };
  });
  const links = [...edges.values()].map((e) => ({
    source: e.source,
    target: e.target,
    value: label(e.kind, "risk"),
    lineStyle: inCircleEdge(e) ? { color: "#b91c1c", width: 4, opacity: 0.95 } : { color: COLOURS[e.kind], width: 1.5, opacity: 0.7 },
  }));
  // A node clicked to expand is still hovered and emphasised: ECharts' force layout keeps
  // that state pointing at the old series' data and can dereference a node that no longer
  // exists once the series is replaced ("Cannot read properties of null"). Clear both, then
  // build the chart afresh rather than merging into the old series.
  chart.dispatchAction({ type: "hideTip" });
  chart.dispatchAction({ type: "downplay" });
  chart.setOption(
    {
      color: CATEGORIES.map((c) => COLOURS[c]),
      tooltip: { show: true },
      legend: [{ data: CATEGORIES.map(categoryName), top: 6 }],
      animationDurationUpdate: 300,
      series: [
        {
          type: "graph",
          layout: "force",
          roam: true,
          draggable: true,
          force: { repulsion: 260, edgeLength: [60, 150], gravity: 0.08, layoutAnimation: false },
          edgeSymbol: ["none", "arrow"],
          edgeSymbolSize: 7,
          categories: CATEGORIES.map((c) => ({ name: categoryName(c) })),
          label: { position: "right", fontSize: 11 },
          emphasis: { focus: "adjacency", lineStyle: { width: 4 } },
          data,
          links,
        },
      ],
    },
    { notMerge: true },
  );
  $("#chart").dataset.nodes = String(nodes.size);
  $("#chart").dataset.settled = "0"; // "1" once drawn and its animation finished
  fill("#graph-meta", t("console.risk.graph.nodes", { nodes: nodes.size, edges: edges.size }));
  const pick = $("#node-pick");
  const chosen = pick.value;
  fill(pick, el("option", { value: "" }, "—"), [...nodes.values()].map((n) => el("option", { value: n.id }, `${n.name || n.id} (${label(n.type, "risk")})`)));
  pick.value = chosen;
}

function relationText(e) {
  const parts = [label(e.kind, "risk")];
  if (e.share !== null && e.share !== undefined) parts.push(`${(e.share * 100).toFixed(1)}%`);
  if (e.amount) parts.push(money(e.amount));
  if (e.role) parts.push(e.role);
  return parts.join(" · ");
}

async function select(id) {
  const node = nodes.get(id);
  if (!node) return;
  $("#node-pick").value = id;
  const relations = [...edges.values()].filter((e) => e.source === id || e.target === id);
  const body = [
    el("p", el("strong", node.name || node.id), " ", node.risk_level ? levelBadge(node.risk_level) : null),
    el(
      "dl.kv",
      el("dt", t("console.risk.graph.type")),
      el("dd", label(node.type, "risk")),
      node.credit_code ? [el("dt", t("console.risk.enterprise.credit_code")), el("dd", node.credit_code)] : null,
      el("dt", t("console.risk.graph.hop")),
      el("dd", node.hop === null || node.hop === undefined ? "—" : String(node.hop)),
    ),
    circle.has(id) ? el("p", badge(t("console.risk.graph.in_circle"), "bad")) : null,
    controller && controller.node === id ? el("p", badge(t("console.risk.enterprise.controller"), "strong"), " ", el("span.muted", t("console.risk.enterprise.share", { share: `${(controller.share * 100).toFixed(1)}%` }))) : null,
    el("h4", t("console.risk.graph.relations")),
    el(
      "ul.risk-relations",
      relations.map((e) => {
        const other = e.source === id ? e.target : e.source;
        return el("li", relationText(e), " — ", el("button.link", { type: "button", onclick: () => select(other) }, nodes.get(other)?.name || other));
      }),
    ),
    node.type === "enterprise" ? el("p", el("a", { href: enterpriseUrl(node.db_id) }, t("console.risk.graph.open_view"))) : null,
    el("p.small.muted", { id: "expand-note" }),
  ];
  fill("#panel-body", body);
  $("#panel").dataset.node = id;
  if (node.type !== "enterprise" || expanded.has(id)) return;
  expanded.add(id);
  try {
    const graph = await api("GET", `/risk/enterprises/${node.db_id}/graph`, { query: { depth: 1 } });
    const added = merge(graph, node.hop ?? 0);
    draw();
    const note = $("#expand-note");
    if (note && $("#panel").dataset.node === id) note.textContent = t("console.risk.graph.expanded", { count: added });
  } catch (error) {
    expanded.delete(id);
    toast(errorText(error), "error", 8000);
  }
}

async function load(depth) {
  nodes.clear();
  edges.clear();
  circle.clear();
  expanded.clear();
  const graph = await api("GET", `/risk/enterprises/${rootId}/graph`, { query: { depth } });
  controller = graph.ultimate_controller || null;
  merge(graph);
  expanded.add(root);
  $("#truncated").hidden = !graph.truncated;
  draw();
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  if (!rootId) {
    fill("#main", el("p.notice", t("console.risk.graph.missing_id")), el("a.btn.primary", { href: "/console/risk/signals" }, t("console.risk.signals.title")));
    return;
  }
  $("#to-view").href = enterpriseUrl(rootId);
  const depth = $("#depth");
  depth.value = ["1", "2", "3", "4"].includes(param("depth")) ? param("depth") : "2";
  chart = echarts.init($("#chart"), null, { renderer: "canvas" });
  window.addEventListener("resize", () => chart.resize());
  chart.on("finished", () => {
    $("#chart").dataset.settled = "1";
  });
  chart.on("click", (event) => {
    if (event.dataType === "node") select(event.data.id);
  });
  $("#node-pick").addEventListener("change", (event) => event.target.value && select(event.target.value));
  depth.addEventListener("change", async () => {
    try {
      await load(depth.value);
      fill("#panel-body", el("p.muted", t("console.risk.graph.pick")));
    } catch (error) {
      toast(errorText(error), "error", 8000);
    }
  });
  await load(depth.value);
});
