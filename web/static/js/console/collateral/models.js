// The AVM model registry for bank staff (GET /collateral/models): each model's version, the
// hash of its training data, rows, its held-out IAAO figures against the plain regression
// baseline trained in the same run, and its status (champion, challenger, retired); for
// admins a Promote button on the others (POST /collateral/models/{id}/promote: the old
// champion is retired).
import { act, all, api, badge, el, fill, label, start, t, table, toast, when } from "/web/static/js/finedge.js";

const K = (name) => t(`console.collateral.models.${name}`);
const STATUS_KIND = { champion: "ok", challenger: "warn", retired: "" };
const FIGURES = [
  ["median_ratio", 3],
  ["cod", 2],
  ["prd", 3],
  ["ppe10", 1],
  ["ppe20", 1],
  ["mdape", 2],
];
const fmt = (x, d) => (typeof x === "number" ? x.toFixed(d) : "—");

async function promote(model, user) {
  await api("POST", `/collateral/models/${model.id}/promote`, { key: `promote-${model.id}-${Date.now()}` });
  toast(`${K("promoted")}: v${model.version}`, "ok");
  await render(user);
}

async function render(user) {
  const models = await all("/collateral/models");
  const admin = user.role === "admin";
  fill(
    "#models",
    table(
      [
        { label: K("version"), class: "version", value: (m) => `v${m.version}` },
        { label: K("status"), class: "status", value: (m) => badge(label(m.status, "collateral"), STATUS_KIND[m.status] ?? "") },
        { label: K("data_hash"), class: "hash", value: (m) => el("code", { title: m.data_hash }, m.data_hash.slice(0, 12)) },
        { label: K("rows"), class: "num", value: (m) => String(m.trained_rows) },
        { label: "PPE10", class: "num", value: (m) => `${fmt(m.metrics?.ensemble?.ppe10, 1)} / ${fmt(m.metrics?.baseline?.ppe10, 1)}` },
        { label: "COD", class: "num", value: (m) => `${fmt(m.metrics?.ensemble?.cod, 2)} / ${fmt(m.metrics?.baseline?.cod, 2)}` },
        { label: K("trained"), value: (m) => `${when(m.trained_at)} · ${m.trained_by}` },
        {
          label: "",
          value: (m) =>
            admin && m.status !== "champion"
              ? el("button.btn.small.primary", { type: "button", "data-model": String(m.id), onclick: (e) => act(e.currentTarget, () => promote(m, user)) }, K("promote"))
              : "",
        },
      ],
      models,
    ),
  );
  const rows = models.flatMap((m) =>
    ["ensemble", "baseline"].map((kind) => ({ m, kind, f: m.metrics?.[kind] || {} })),
  );
  fill(
    "#metrics",
    table(
      [
        { label: K("version"), value: (r) => `v${r.m.version}` },
        { label: K("method"), value: (r) => K(r.kind) },
        { label: "n", class: "num", value: (r) => String(r.f.n ?? "—") },
        ...FIGURES.map(([name, d]) => ({ label: name.toUpperCase().replace("_", " "), class: "num", value: (r) => fmt(r.f[name], d) })),
        { label: "IAAO", value: (r) => (r.f.iaao_pass === undefined ? "—" : badge(t(r.f.iaao_pass ? "common.yes" : "common.no"), r.f.iaao_pass ? "ok" : "bad")) },
      ],
      rows,
    ),
  );
}

start({ roles: ["rm", "approver", "admin"] }, render);
