// The branch hall board: the queue by service, the counters and whom they serve, the waiting
// tickets in call order, and the teller's own counter with its actions.
//
// The picture is GET /branches/{b}/queue, then kept by the live `queue.update` deltas as
// docs/branch.md says (old versions ignored, a gap reloads, a `full` replaces). Actions are
// POST /branches/{b}/counters/{c}/... ; the counter a teller works at is remembered in this
// browser. `#waiting` holds one `[data-ticket]` element per waiting ticket (the pages
// benchmark counts them).
import { $, act, api, badge, confirm, el, fill, label, onLive, start, t, toast, when } from "/web/static/js/finedge.js";
import { keepCurrent, minutes, pickBranch, serviceName } from "/web/static/js/console/hall/branch.js";

const COUNTER_KIND = { open: "ok", closed: "", offline: "bad" };

const state = {
  branch: null,
  version: -1,
  at: null,
  services: [],
  counters: new Map(),
  tickets: new Map(), // waiting or booked, by id
  serving: new Map(), // called, by id
  loaded: false,
  loading: null,
  pending: [],
};

let counterKey = "";
let drawQueued = false;

function counterOf() {
  const id = $("#counter").value;
  return id ? state.counters.get(id) : null;
}

function servingTicket(counter) {
  if (!counter) return null;
  for (const x of state.serving.values()) if (x.counter_id === counter.counter_id) return x;
  return null;
}

// ---------- the picture ----------
function takeWhole(q) {
  state.version = q.version;
  state.at = q.at;
  state.services = q.services || [];
  state.counters = new Map((q.counters || []).map((c) => [c.counter_id, c]));
  state.tickets = new Map((q.tickets || []).map((x) => [x.id, x]));
  state.serving = new Map((q.serving || []).map((x) => [x.id, x]));
}

function reload() {
  if (!state.loading) {
    state.loading = api("GET", `/branches/${state.branch}/queue`)
      .then((q) => {
        if (q.version >= state.version) takeWhole(q);
        state.loaded = true;
      })
      .finally(() => {
        state.loading = null;
      })
      .then(() => {
        for (const u of state.pending.splice(0)) apply(u);
        draw();
      });
  }
  return state.loading;
}

function apply(u) {
  if (u.branch_id !== state.branch || !u.kind) return; // a client's own-ticket push has no kind
  if (!state.loaded || state.loading) {
    state.pending.push(u);
    return;
  }
  if (u.version <= state.version) return; // old news
  if (u.kind === "full") {
    takeWhole(u);
  } else if (u.base_version !== state.version) {
    state.pending.push(u);
    reload(); // a push was missed
    return;
  } else {
    for (const id of u.removed || []) {
      state.tickets.delete(id);
      state.serving.delete(id);
    }
    for (const x of u.tickets || []) {
      state.serving.delete(x.id);
      state.tickets.set(x.id, x);
    }
    for (const x of u.serving || []) {
      state.tickets.delete(x.id);
      state.serving.set(x.id, x);
    }
    for (const s of u.standings || []) {
      const x = state.tickets.get(s.id);
      if (x) Object.assign(x, { position: s.position, estimated_wait_s: s.estimated_wait_s });
    }
    for (const c of u.counters || []) state.counters.set(c.counter_id, c);
    state.services = u.services || state.services;
    state.version = u.version;
    state.at = u.at;
  }
  scheduleDraw();
}

function scheduleDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

// ---------- drawing ----------
function drawServices() {
  fill(
    "#services",
    state.services.map((s) =>
      el(
        "div.stat",
        { dataset: { service: s.service } },
        el("div.name", serviceName(s.service)),
        el("div.value", String(s.waiting)),
        el(
          "div.small.muted",
          `${t("console.hall.board.booked_n")} ${s.booked} · ${t("console.hall.board.counters_open")} ${s.counters_open}`,
        ),
        el("div.small.muted", `${t("console.hall.board.est_wait")} ${minutes(s.estimated_wait_s)}`),
      ),
    ),
  );
}

function drawCounters() {
  const rows = [...state.counters.values()].sort((a, b) => a.counter_id.localeCompare(b.counter_id, "en", { numeric: true }));
  fill(
    "#counters",
    el(
      "table.table",
      el(
        "thead",
        el(
          "tr",
          [t("console.hall.board.counter"), t("common.status"), t("console.hall.board.skills"), t("console.hall.board.serving")].map((h) =>
            el("th", { scope: "col" }, h),
          ),
        ),
      ),
      el(
        "tbody",
        rows.map((c) =>
          el(
            "tr",
            { dataset: { counter: c.counter_id } },
            el("td", t("console.hall.board.counter_name", { id: c.counter_id, name: c.name })),
            el("td", badge(label(c.status, "hall"), COUNTER_KIND[c.status] || "")),
            el("td.small", [...c.skills, ...(c.borrowed_skills || [])].map(serviceName).join(", ")),
            el("td.serving", c.serving ? el("strong", c.serving) : el("span.muted", t("console.hall.board.nobody"))),
          ),
        ),
      ),
    ),
  );
}

function ticketItem(x) {
  return el(
    "li",
    { dataset: { ticket: String(x.id) } },
    el("strong.hall-ticket", x.ticket_no),
    el("span", serviceName(x.service)),
    x.category && x.category !== "normal" ? badge(label(x.category, "hall"), "warn") : null,
    x.status === "remote" ? badge(label("remote", "hall")) : null,
    el("span.small.muted", x.position ? t("console.hall.board.position", { n: x.position }) : ""),
    el("span.small.muted", minutes(x.estimated_wait_s)),
    el("span.small.muted", t("console.hall.board.issued", { time: when(x.issued_at, { date: false }) })),
  );
}

function drawWaiting() {
  const tickets = [...state.tickets.values()].sort((a, b) => (a.order_key < b.order_key ? -1 : a.order_key > b.order_key ? 1 : 0));
  fill("#waiting", tickets.map(ticketItem));
  $("#waiting-count").textContent = String(tickets.length);
  $("#waiting-empty").hidden = tickets.length > 0;
}

function drawCounterChoice() {
  const select = $("#counter");
  const chosen = select.value || localStorage.getItem(counterKey) || "";
  const ids = [...state.counters.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join("|") !== ids.join("|")) {
    fill(
      select,
      el("option", { value: "" }, t("console.hall.board.pick_counter")),
      ids.map((id) => el("option", { value: id }, t("console.hall.board.counter_name", { id, name: state.counters.get(id).name }))),
    );
  }
  select.value = ids.includes(chosen) ? chosen : "";
}

function drawMine() {
  const counter = counterOf();
  $("#mine").hidden = !counter;
  if (!counter) return;
  const current = servingTicket(counter);
  $("#mine-name").textContent = t("console.hall.board.counter_name", { id: counter.counter_id, name: counter.name });
  fill("#mine-status", badge(label(counter.status, "hall"), COUNTER_KIND[counter.status] || ""));
  $("#mine-serving").textContent = current
    ? `${current.ticket_no} · ${serviceName(current.service)}`
    : counter.serving || t("console.hall.board.nobody");
  const open = counter.status === "open";
  const busy = Boolean(current || counter.serving);
  $("#act-open").hidden = open;
  $("#act-close").hidden = !open;
  $("#act-open").disabled = counter.status === "offline";
  $("#act-call").disabled = !open;
  for (const id of ["#act-recall", "#act-finish", "#act-no-show", "#act-transfer"]) $(id).disabled = !busy;
  const transfer = $("#transfer-service");
  const offered = state.services.map((s) => s.service).filter((code) => !current || code !== current.service);
  if ([...transfer.options].map((o) => o.value).join("|") !== offered.join("|")) {
    fill(transfer, offered.map((code) => el("option", { value: code }, serviceName(code))));
  }
}

function draw() {
  drawServices();
  drawCounters();
  drawWaiting();
  drawCounterChoice();
  drawMine();
  $("#as-of").textContent = state.at ? t("console.hall.as_of", { time: when(state.at) }) : "";
}

// ---------- actions ----------
function counterAction(button, path, { body, ask, done } = {}) {
  button.addEventListener("click", () => {
    const counter = counterOf();
    if (!counter) return;
    act(button, async () => {
      const question = ask?.(counter);
      if (question && !(await confirm(question))) return;
      const result = await api("POST", `/branches/${state.branch}/counters/${encodeURIComponent(counter.counter_id)}/${path}`, {
        body: body?.(),
      });
      toast(done ? done(result) : t("console.hall.board.done"), "ok");
      await reload();
    });
  });
}

function wireActions() {
  $("#counter").addEventListener("change", (event) => {
    localStorage.setItem(counterKey, event.target.value);
    drawMine();
  });
  counterAction($("#act-call"), "call-next", {
    done: (r) => (r.called ? t("console.hall.board.called", { ticket: r.called.ticket_no }) : t("console.hall.board.none_waiting")),
  });
  counterAction($("#act-recall"), "recall", {
    done: (r) => t("console.hall.board.called", { ticket: r.called?.ticket_no ?? "" }),
  });
  counterAction($("#act-finish"), "finish");
  counterAction($("#act-no-show"), "no-show", {
    ask: (c) => t("console.hall.board.confirm_no_show", { ticket: servingTicket(c)?.ticket_no ?? c.serving ?? "" }),
  });
  counterAction($("#act-open"), "status", { body: () => ({ status: "open" }) });
  counterAction($("#act-close"), "status", {
    body: () => ({ status: "closed" }),
    ask: (c) => t("console.hall.board.confirm_close", { counter: c.counter_id }),
  });
  counterAction($("#act-transfer"), "transfer", {
    body: () => ({ service: $("#transfer-service").value, return_after: $("#transfer-return").checked }),
  });
}

start({ roles: ["teller", "approver", "admin", "rm"] }, async (user) => {
  state.branch = await pickBranch(user);
  if (!state.branch) return;
  counterKey = `finedge.hall.counter.${state.branch}`;
  wireActions();
  // the picture and the socket at once: a push that comes before the picture waits for it,
  // and one missed before the socket joined shows as a gap at the next push (which reloads)
  await Promise.all([reload(), onLive("queue.update", apply)]);
  await keepCurrent(user, reload, { versioned: true });
});
