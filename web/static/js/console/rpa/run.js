// One run of a robot (/console/rpa/run?run=ID): its counts (GET /rpa/runs/{id}), its work items
// (GET /rpa/items?run_id=), one item's payload, result, failure and logs (GET /rpa/items/{id}),
// its artefacts (downloaded with the session's token, never a URL that carries it) and its log.
import { $, act, all, api, badge, el, fill, label, param, session, start, t, table, when } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.rpa.run.${name}`, params);
const STATE_KIND = { DONE: "ok", FAILED: "bad", RESERVED: "warn", NEW: "" };
const json = (value) => el("pre.small", JSON.stringify(value ?? null, null, 2));

async function download(a) {
  const response = await fetch(`/api/v1/rpa/artefacts/${a.id}`, { headers: { Authorization: `Bearer ${session.get().token}` }, cache: "no-store" });
  if (!response.ok) throw new Error(`${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: a.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function artefactList(artefacts) {
  return artefacts.length
    ? artefacts.map((a) => {
        const b = el("button.btn", { type: "button", dataset: { artefact: a.id } }, `${a.name} (${a.content_type}, ${a.size} B)`);
        b.addEventListener("click", () => act(b, () => download(a)));
        return el("li", b);
      })
    : el("li", K("no_artefacts"));
}

async function showItem(id) {
  const d = await api("GET", `/rpa/items/${id}`);
  const i = d.item;
  fill(
    "#item-detail",
    el("h4", K("item_title", { id: i.id })),
    el("div.grid", el("div.stat", el("div.name", K("state")), el("div.value", label(i.state, "rpa"))), el("div.stat", el("div.name", K("attempts")), el("div.value", `${i.attempts} / ${i.max_attempts}`))),
    i.failure_kind ? el("p.notice", `${label(i.failure_kind, "rpa")} · ${i.failure_code}: ${d.failure_message || ""}`) : null,
    el("h4", K("payload")),
    json(d.payload),
    el("h4", K("result")),
    json(d.result),
    d.failure_details ? json(d.failure_details) : null,
    el("h4", K("item_logs")),
    el("ul.list", d.logs.length ? d.logs.map((l) => el("li", `${when(l.at)} [${l.level}] ${l.message}`)) : el("li", K("no_logs"))),
    el("h4", K("artefacts")),
    el("ul.list", artefactList(d.artefacts)),
  );
}

async function page() {
  const id = Number(param("run"));
  if (!Number.isSafeInteger(id) || id < 1) {
    fill("#run-title", K("no_run"));
    return;
  }
  const [d, items, logs] = await Promise.all([
    api("GET", `/rpa/runs/${id}`),
    all("/rpa/items", { run_id: id }, 1000),
    api("GET", `/rpa/runs/${id}/logs`, { query: { limit: 200 } }),
  ]);
  const r = d.run;
  fill("#run-title", `${r.robot} · #${r.id} · ${label(r.status, "rpa")}`);
  fill(
    "#counts",
    Object.entries(d.item_counts).map(([state, n]) => el("div.stat", { dataset: { state } }, el("div.name", label(state, "rpa")), el("div.value", String(n)))),
    el("div.stat", el("div.name", K("trigger")), el("div.value", `${label(r.trigger, "rpa")} · ${r.requested_by}`)),
    el("div.stat", el("div.name", K("started")), el("div.value", when(r.started_at || r.created_at))),
    el("div.stat", el("div.name", K("finished")), el("div.value", when(r.finished_at))),
  );
  fill(
    "#items",
    table(
      [
        { label: "#", class: "num", value: (i) => el("a", { href: "#item-detail", dataset: { item: i.id } }, String(i.id)) },
        { label: K("state"), value: (i) => badge(label(i.state, "rpa"), STATE_KIND[i.state]) },
        { label: K("attempts"), class: "num", value: (i) => `${i.attempts} / ${i.max_attempts}` },
        { label: K("failure"), value: (i) => (i.failure_kind ? `${label(i.failure_kind, "rpa")} · ${i.failure_code}` : "—") },
        { label: K("finished"), value: (i) => when(i.finished_at) },
      ],
      items,
    ),
  );
  for (const link of document.querySelectorAll("#items a[data-item]")) link.addEventListener("click", () => act(null, () => showItem(Number(link.dataset.item))));
  fill("#artefacts", artefactList(d.artefacts));
  fill(
    "#logs",
    table(
      [
        { label: K("at"), value: (l) => when(l.at) },
        { label: K("level"), value: (l) => l.level },
        { label: K("item"), value: (l) => (l.item_id ? `#${l.item_id}` : "—") },
        { label: K("message"), value: (l) => l.message },
      ],
      logs.items,
      { empty: K("no_logs") },
    ),
  );
}

start({ roles: ["operator", "admin"] }, page);
