// Segments for the marketing team (/api/v1/marketing/segments): a builder that writes the
// definition JSON (conditions on fields, tags and events joined by all/any, or a propensity
// model list), a live preview of its size per tier and outlet and its overlap with every saved
// segment (and a model list's held-out figures), then save; the saved list with freeze (the
// list a campaign uses) and export (CSV, with its purpose: recorded and audited).
import { $, act, all, api, badge, confirm, el, errorText, fill, session, start, t, table, toast, when } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.marketing.segments.${name}`, params);
const BASE = "/marketing/segments";
let vocab = null;
let conditions = [];
let timer = null;

function opt(value, text, selected = false) {
  return el("option", { value, selected }, text);
}

function whatChoices() {
  const fields = Object.keys(vocab.fields).map((f) => opt(`field:${f}`, `${K("field")}: ${f}`));
  const events = vocab.events.map((e) => opt(`event:${e}`, `${K("event")}: ${e}`));
  return [...fields, opt("tag:", K("tag")), ...events];
}

function opsFor(what) {
  const [kind, name] = what.split(":");
  if (kind === "field") return vocab.fields[name].ops;
  if (kind === "event") return ["within_days"];
  return ["has"];
}

function parseValue(spec, op, raw) {
  const text = raw.trim();
  const list = () => text.split(",").map((v) => v.trim()).filter(Boolean);
  const one = (v) => (spec.kind === "int" ? Number.parseInt(v, 10) : v);
  if (spec.kind === "bool") return text === "true" || text === "1";
  if (op === "in" || op === "between") return list().map(one);
  return one(text);
}

function leafFrom(what, op, raw) {
  const [kind, name] = what.split(":");
  if (kind === "tag") return { tag: raw.trim() };
  if (kind === "event") return { event: name, within_days: Number.parseInt(raw, 10) };
  return { field: name, op, value: parseValue(vocab.fields[name], op, raw) };
}

function definition() {
  if ($("#b-kind").value === "model") {
    const d = { model: "propensity", target: $("#b-target").value, top: Number.parseInt($("#b-top").value, 10) };
    if (conditions.length) d.where = { all: conditions };
    return d;
  }
  return { [$("#b-combine").value]: conditions };
}

function writeDefinition() {
  $("#definition").value = JSON.stringify(definition(), null, 1);
  schedulePreview();
}

function readDefinition() {
  return JSON.parse($("#definition").value);
}

function drawConditions() {
  fill(
    "#conditions",
    conditions.length
      ? el(
          "ul.plain",
          conditions.map((c, i) =>
            el(
              "li",
              el("code", JSON.stringify(c)),
              " ",
              el("button.btn.small", { type: "button", onclick: () => { conditions.splice(i, 1); drawConditions(); writeDefinition(); } }, K("remove")),
            ),
          ),
        )
      : el("p.muted", K("no_conditions")),
  );
}

function schedulePreview() {
  clearTimeout(timer);
  timer = setTimeout(() => preview().catch((e) => fill("#preview", el("p.notice", errorText(e)))), 400);
}

function figures(model) {
  const m = model.metrics || {};
  return el(
    "div",
    el("p", `${K("model")}: ${model.version} · ${K("source")}: ${model.source} · AUC ${m.auc ?? "—"} · Brier ${m.brier} (${K("base_rate")} ${m.brier_base_rate}) · ECE ${m.ece}`),
    table(
      [
        { label: K("bin"), value: (b) => `${b.low.toFixed(1)}–${b.high.toFixed(1)}` },
        { label: "n", class: "num", value: (b) => String(b.n) },
        { label: K("predicted"), class: "num", value: (b) => b.predicted.toFixed(3) },
        { label: K("observed"), class: "num", value: (b) => b.observed.toFixed(3) },
      ],
      m.reliability || [],
      { caption: K("reliability") },
    ),
  );
}

async function preview() {
  let body;
  try {
    body = { definition: readDefinition() };
  } catch {
    fill("#preview", el("p.notice", K("bad_json")));
    return;
  }
  const p = await api("POST", `${BASE}/preview`, { body });
  const counts = (obj) => Object.entries(obj).map(([k, n]) => ({ k, n }));
  fill(
    "#preview",
    el("p.big", K("size", { n: p.size })),
    el(
      "div.filters",
      table([{ label: K("tier"), value: (r) => r.k }, { label: "n", class: "num", value: (r) => String(r.n) }], counts(p.by_tier)),
      table([{ label: K("outlet"), value: (r) => r.k }, { label: "n", class: "num", value: (r) => String(r.n) }], counts(p.by_outlet)),
    ),
    table(
      [
        { label: K("name"), value: (o) => o.name },
        { label: K("kind"), value: (o) => o.kind },
        { label: K("size_col"), class: "num", value: (o) => (o.size ?? "—").toString() },
        { label: K("overlap"), class: "num", value: (o) => (o.overlap ?? K("not_frozen")).toString() },
        { label: "Jaccard", class: "num", value: (o) => (o.jaccard === null ? "—" : o.jaccard.toFixed(3)) },
      ],
      p.overlap,
      { caption: K("overlap_caption"), empty: K("no_saved") },
    ),
    p.model ? figures(p.model) : null,
  );
}

async function download(segment) {
  const purpose = $("#e-purpose").value.trim();
  if (purpose.length < 3) {
    toast(K("purpose_needed"), "error");
    $("#e-purpose").focus();
    return;
  }
  const response = await fetch(`/api/v1${BASE}/${segment.id}/export`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${session.get()?.token}`,
      "Content-Type": "application/json",
      "Idempotency-Key": crypto.randomUUID(),
    },
    body: JSON.stringify({ purpose }),
    credentials: "omit",
    cache: "no-store",
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    toast(data?.error?.message || String(response.status), "error", 8000);
    return;
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: `segment-${segment.id}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  toast(K("exported", { sha: (response.headers.get("X-Export-Sha256") || "").slice(0, 12) }), "ok");
}

async function drawSaved() {
  const segments = await all(BASE);
  fill(
    "#segments",
    table(
      [
        { label: K("name"), value: (s) => s.name },
        { label: K("kind"), value: (s) => s.kind },
        { label: K("state"), value: (s) => (s.frozen ? badge(K("frozen"), "ok") : badge(K("draft"))) },
        { label: K("size_col"), class: "num", value: (s) => (s.size ?? "—").toString() },
        { label: K("created"), value: (s) => when(s.created_at) },
        {
          label: "",
          value: (s) =>
            el(
              "span",
              el("button.btn.small", { type: "button", onclick: () => { $("#definition").value = JSON.stringify(s.definition, null, 1); schedulePreview(); } }, K("load")),
              " ",
              s.frozen
                ? null
                : el("button.btn.small.primary", { type: "button", onclick: (e) => act(e.currentTarget, () => freeze(s)) }, K("freeze")),
              " ",
              el("button.btn.small", { type: "button", onclick: (e) => act(e.currentTarget, () => download(s)) }, K("export")),
              " ",
              el("button.btn.small.danger", { type: "button", onclick: (e) => act(e.currentTarget, () => remove(s)) }, K("delete")),
            ),
        },
      ],
      segments,
      { empty: K("no_saved") },
    ),
  );
}

async function freeze(segment) {
  const r = await api("POST", `${BASE}/${segment.id}/freeze`, { body: {} });
  toast(K("frozen_n", { n: r.size }), "ok");
  await drawSaved();
}

async function remove(segment) {
  if (!(await confirm(K("confirm_delete", { name: segment.name })))) return;
  await api("DELETE", `${BASE}/${segment.id}`);
  await drawSaved();
}

function syncKind() {
  const model = $("#b-kind").value === "model";
  $("#b-target-field").hidden = !model;
  $("#b-top-field").hidden = !model;
  $("#b-combine-field").hidden = model;
  writeDefinition();
}

function syncOps() {
  fill("#c-op", opsFor($("#c-what").value).map((o) => opt(o, o)));
}

start({ roles: ["marketing", "admin"] }, async () => {
  vocab = await api("GET", `${BASE}/vocabulary`);
  fill("#b-kind", opt("rule", K("kind_rule")), opt("model", K("kind_model")));
  fill("#b-combine", opt("all", K("all")), opt("any", K("any")));
  fill("#b-target", vocab.targets.map((x) => opt(x, x)));
  fill("#c-what", whatChoices());
  syncOps();
  $("#c-what").addEventListener("change", syncOps);
  for (const id of ["#b-kind", "#b-combine", "#b-target", "#b-top"]) $(id).addEventListener("change", syncKind);
  $("#definition").addEventListener("input", schedulePreview);
  $("#add-condition").addEventListener("submit", (e) => {
    e.preventDefault();
    const leaf = leafFrom($("#c-what").value, $("#c-op").value, $("#c-value").value);
    conditions.push($("#c-negate").checked ? { not: leaf } : leaf);
    $("#c-value").value = "";
    drawConditions();
    writeDefinition();
  });
  $("#preview-btn").addEventListener("click", (e) => act(e.currentTarget, preview));
  $("#save").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, async () => {
      const s = await api("POST", BASE, { body: { name: $("#s-name").value, definition: readDefinition() } });
      toast(K("saved_as", { name: s.name }), "ok");
      await drawSaved();
    });
  });
  conditions = [{ field: "tier", op: "in", value: ["affluent", "wealth"] }];
  drawConditions();
  syncKind();
  await drawSaved();
});
