// My ticket: the client's open tickets of today with their position and estimated wait, live
// until called (`queue.update`, pushed to the client's own socket for their own ticket), the
// counter shown prominently once called; check in at the branch with the code of the hall
// screen (typed, or scanned with the camera where the browser has BarcodeDetector); cancel.
//
// Where the tickets come from: GET /tickets/mine (the client's tickets at every branch: the open
// ones with their standing, those that ended in the last 24 h), read again on each (re)connection
// of the live socket; the device's own index (store.js) only remembers what was taken here.
import { $, act, all, api, ApiError, badge, confirm, el, errorText, fill, label, live, onLive, param, start, t, toast, when } from "/web/static/js/finedge.js";
import { OPEN, forget, remember, remembered } from "/web/static/js/m/client/store.js";

const tickets = new Map(); // "branch/no" -> ticket
const versions = new Map(); // branch -> the newest queue version seen
const names = new Map(); // branch code -> name
const KINDS = { remote: "warn", waiting: "", called: "ok", done: "ok", no_show: "bad", cancelled: "", expired: "bad" };
const keyOf = (ticket) => `${ticket.branch_id}/${ticket.ticket_no}`;
const path = (ticket) => `/branches/${encodeURIComponent(ticket.branch_id)}/tickets/${encodeURIComponent(ticket.ticket_no)}`;
let user = null;

function say(error) {
  const own = `m.client.err.${error?.code}`;
  return error instanceof ApiError && t(own) !== own ? t(own, error.details || {}) : errorText(error);
}

// ---------- reading ----------
async function load() {
  const mine = await all("/tickets/mine", {}, 200);
  tickets.clear();
  for (const ticket of mine) tickets.set(keyOf(ticket), ticket);
  for (const x of remembered(user)) if (!tickets.has(keyOf(x))) forget(user, x); // ended long ago
  render();
}

async function loadNames() {
  try {
    for (const b of await all("/branches", {}, 400)) names.set(b.code, b.name);
    render();
  } catch {
    // names are a nicety: codes are shown meanwhile
  }
}

function take(ticket) {
  const old = tickets.get(keyOf(ticket));
  tickets.set(keyOf(ticket), { ...old, ...ticket });
  render();
}

// ---------- drawing ----------
const minutes = (s) => Math.max(1, Math.round(s / 60));

function details(ticket) {
  const rows = [
    [t("m.client.ticket.branch"), names.get(ticket.branch_id) || ticket.branch_id],
    [t("m.client.ticket.service"), label(ticket.service, "client")],
  ];
  if (ticket.status !== "called" && ticket.position !== null && ticket.position !== undefined) {
    rows.push([t("m.client.ticket.position"), t("m.client.ticket.people", { n: ticket.position })]);
  }
  if (ticket.status !== "called" && ticket.estimated_wait_s !== null && ticket.estimated_wait_s !== undefined) {
    rows.push([t("m.client.ticket.wait"), t("m.client.ticket.minutes", { n: minutes(ticket.estimated_wait_s) })]);
  }
  if (ticket.appointment_at) rows.push([t("m.client.ticket.appointment"), when(ticket.appointment_at)]);
  rows.push([t("m.client.ticket.issued"), when(ticket.issued_at)]);
  return el(
    "dl.kv",
    rows.map(([name, value]) => [el("dt", name), el("dd", { dataset: { field: name } }, value)]),
  );
}

function checkInForm(ticket) {
  const id = `code-${ticket.branch_id}-${ticket.ticket_no}`;
  const input = el("input", {
    id,
    name: "presence_code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    required: true,
  });
  const submit = el("button.btn.primary", { type: "submit" }, t("m.client.ticket.check_in"));
  const form = el(
    "form.form.check-in",
    {
      onsubmit: (event) => {
        event.preventDefault();
        act(submit, () => checkIn(ticket, input.value));
      },
    },
    el("p.small", t("m.client.ticket.remote_hint")),
    el("label", { for: id }, t("m.client.ticket.code")),
    input,
    el(
      "div.row",
      submit,
      "BarcodeDetector" in window
        ? el("button.btn.secondary", { type: "button", onclick: () => scan(ticket, input) }, t("m.client.ticket.scan"))
        : null,
    ),
  );
  return form;
}

function card(ticket) {
  const called = ticket.status === "called";
  const canCancel = ticket.status === "remote" || ticket.status === "waiting";
  return el(
    `section.card.ticket${called ? ".is-called" : ""}`,
    { dataset: { ticket: ticket.ticket_no, branch: ticket.branch_id, status: ticket.status } },
    el(
      "div.row.between",
      el("div", el("div.muted.small", t("m.client.ticket.number")), el("div.big.ticket-no", ticket.ticket_no)),
      badge(label(ticket.status, "client"), KINDS[ticket.status] || ""),
    ),
    called
      ? el("p.counter-call", t("m.client.ticket.called_at", { counter: ticket.counter_id || "—" }))
      : null,
    details(ticket),
    ticket.status === "remote" ? checkInForm(ticket) : null,
    canCancel
      ? el(
          "div.row.end",
          el("button.btn.danger.small.cancel", { type: "button", onclick: (e) => cancel(ticket, e.currentTarget) }, t("m.client.ticket.cancel")),
        )
      : null,
  );
}

function render() {
  // what is being typed survives a live redraw
  const typed = [...document.querySelectorAll(".check-in input")].map((i) => [i.id, i.value]);
  const focused = document.activeElement?.id;
  const list = [...tickets.values()].sort((a, b) => String(a.issued_at).localeCompare(String(b.issued_at)));
  const open = list.filter((x) => OPEN.has(x.status));
  const past = list.filter((x) => !OPEN.has(x.status));
  const called = open.filter((x) => x.status === "called");
  const banner = $("#called");
  banner.hidden = !called.length;
  fill(
    banner,
    called.map((x) =>
      el(
        "div",
        el("div.called-title", t("m.client.ticket.called_title")),
        el("div.called-counter", t("m.client.ticket.called_at", { counter: x.counter_id || "—" })),
        el("div.called-no", x.ticket_no),
      ),
    ),
  );
  fill(
    "#tickets",
    open.length
      ? open.map(card)
      : el(
          "div.card.empty",
          el("p", t("m.client.ticket.none")),
          el("a.btn.primary", { href: "/m/client/branches" }, t("m.client.ticket.to_branches")),
        ),
  );
  $("#past-section").hidden = !past.length;
  fill(
    "#past",
    past.map((x) =>
      el(
        "li",
        { dataset: { ticket: x.ticket_no, status: x.status } },
        el("span", el("strong", x.ticket_no), " · ", names.get(x.branch_id) || x.branch_id, " · ", label(x.service, "client")),
        badge(label(x.status, "client"), KINDS[x.status] || ""),
      ),
    ),
  );
  for (const [id, value] of typed) {
    const input = document.getElementById(id);
    if (input) input.value = value;
  }
  if (focused) document.getElementById(focused)?.focus();
}

// ---------- actions ----------
/** The code alone, from what was typed or the QR code's text (finedge://check-in?branch=&code=). */
function codeFrom(text) {
  const value = String(text || "").trim();
  if (value.startsWith("finedge://")) {
    try {
      return new URL(value.replace("finedge://", "https://finedge.invalid/")).searchParams.get("code") || "";
    } catch {
      return value;
    }
  }
  return value.replace(/\s+/g, "").toUpperCase();
}

async function checkIn(ticket, text) {
  try {
    take(await api("POST", `${path(ticket)}/check-in`, { body: { presence_code: codeFrom(text) } }));
    toast(t("m.client.ticket.checked_in"), "ok");
  } catch (error) {
    toast(say(error), "error", 8000);
  }
}

async function cancel(ticket, button) {
  if (!(await confirm(t("m.client.ticket.cancel_confirm", { ticket_no: ticket.ticket_no })))) return;
  await act(button, async () => {
    take(await api("POST", `${path(ticket)}/cancel`));
    toast(t("m.client.ticket.cancelled"), "ok");
  });
}

async function scan(ticket, input) {
  const dialog = $("#scanner");
  const video = $("#scan-video");
  let stream = null;
  let running = true;
  const stop = () => {
    running = false;
    stream?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
    if (dialog.open) dialog.close();
  };
  $("#scan-close").onclick = stop;
  dialog.addEventListener("close", stop, { once: true });
  try {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    video.srcObject = stream;
    dialog.showModal();
    await video.play();
    while (running) {
      const found = await detector.detect(video).catch(() => []);
      const hit = found.find((code) => String(code.rawValue).startsWith("finedge://check-in"));
      if (hit) {
        stop();
        input.value = codeFrom(hit.rawValue);
        await checkIn(ticket, hit.rawValue);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } catch {
    stop();
    toast(t("m.client.ticket.scan_failed"), "error");
    input.focus();
  }
}

// ---------- live ----------
function pushed(update) {
  const ticket = update.ticket;
  if (!ticket) return;
  const b = ticket.branch_id || update.branch_id;
  if (update.version && update.version < (versions.get(b) || 0)) return; // crossed pushes: old news
  if (update.version) versions.set(b, update.version);
  remember(user, { ...ticket, branch_id: b });
  take({ ...ticket, branch_id: b });
}

start({ roles: ["client"] }, async (signedIn) => {
  user = signedIn;
  await load();
  const just = [...document.querySelectorAll(".ticket")].find(
    (node) => node.dataset.branch === param("branch") && node.dataset.ticket === param("no"),
  );
  just?.scrollIntoView({ block: "nearest" });
  loadNames();
  await onLive("queue.update", pushed);
  // on every (re)connection read again: a push missed while disconnected is not replayed
  const socket = await live();
  socket.on("connect", () => load().catch(() => {}));
  if (socket.connected) load().catch(() => {});
});
