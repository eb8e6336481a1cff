// Branches for clients: every branch (GET /branches) with its hours, whether it is open now and
// its live queue per service (waiting in the hall, booked, open counters); take a ticket for a
// service, now or for an appointment slot inside the published hours (POST
// /branches/{b}/tickets), remembered on this device and shown on the ticket page.
//
// Live counts: the `queue.update` a client's socket receives carries only the client's own
// ticket (the branch-wide deltas go to the branch's staff), so the counts are read again every
// 10 s while the page is visible, and at once when the client's own ticket changes.
import { $, act, all, api, el, errorText, fill, label, onLive, start, t, toast } from "/web/static/js/finedge.js";
import { OPEN, remember, remembered } from "/web/static/js/m/client/store.js";

const POLL_MS = 10_000;
const SLOT_MIN = 30;
const SLOT_DAYS = 7;
const SLOTS_MAX = 60;
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const locale = () => (document.documentElement.lang === "en" ? "en-GB" : "zh-CN");

let branches = [];
let openForm = null; // the branch code whose form is open (kept across refreshes)
let timer = null;

// ---------- time in the branch's zone ----------
function partsIn(date, timeZone) {
  const fmt = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    weekday: "short",
  });
  const p = Object.fromEntries(fmt.formatToParts(date).map((x) => [x.type, x.value]));
  return { y: +p.year, m: +p.month, d: +p.day, hh: +p.hour, mm: +p.minute, wd: p.weekday.slice(0, 3).toLowerCase() };
}

/** The UTC instant of a wall-clock time in `timeZone`. */
function zoned(y, m, d, hh, mm, timeZone) {
  let guess = Date.UTC(y, m - 1, d, hh, mm);
  for (let i = 0; i < 2; i++) {
    const p = partsIn(new Date(guess), timeZone);
    const shown = Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm);
    guess += Date.UTC(y, m - 1, d, hh, mm) - shown;
  }
  return new Date(guess);
}

function todayHours(branch) {
  if (!branch.opening_hours) return t("m.client.branches.no_hours");
  const wd = partsIn(new Date(), branch.timezone || "Asia/Shanghai").wd;
  const spans = branch.opening_hours[wd] || [];
  if (!spans.length) return t("m.client.branches.closed_today");
  return t("m.client.branches.today", { hours: spans.map(([a, b]) => `${a}–${b}`).join(", ") });
}

/** Appointment slots: every 30 min inside the published hours of the next days, from 30 min on. */
function slots(branch) {
  const hours = branch.opening_hours;
  if (!hours) return [];
  const tz = branch.timezone || "Asia/Shanghai";
  const earliest = Date.now() + 30 * 60_000;
  const out = [];
  const today = partsIn(new Date(), tz);
  for (let day = 0; day < SLOT_DAYS && out.length < SLOTS_MAX; day++) {
    const base = new Date(Date.UTC(today.y, today.m - 1, today.d + day));
    const wd = WEEKDAYS[base.getUTCDay()];
    for (const [from, to] of hours[wd] || []) {
      const [fh, fm] = from.split(":").map(Number);
      const [th, tm] = to.split(":").map(Number);
      for (let min = fh * 60 + fm; min + SLOT_MIN <= th * 60 + tm; min += SLOT_MIN) {
        const at = zoned(base.getUTCFullYear(), base.getUTCMonth() + 1, base.getUTCDate(), Math.floor(min / 60), min % 60, tz);
        if (at.getTime() >= earliest && out.length < SLOTS_MAX) out.push(at);
      }
    }
  }
  return out.map((at) => ({
    value: at.toISOString(),
    text: at.toLocaleString(locale(), {
      timeZone: tz,
      weekday: "short",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    }),
  }));
}

// ---------- taking a ticket ----------
function takeForm(branch, user) {
  const id = (name) => `${name}-${branch.code}`;
  const service = el(
    "select",
    { id: id("service"), name: "service", required: true },
    (branch.services || []).map((s) => el("option", { value: s }, label(s, "client"))),
  );
  const choices = slots(branch);
  const slot = el(
    "select",
    { id: id("slot"), name: "slot" },
    choices.length
      ? choices.map((c) => el("option", { value: c.value }, c.text))
      : el("option", { value: "" }, t("m.client.branches.no_slots")),
  );
  const slotField = el("div.form", { hidden: true }, el("label", { for: id("slot") }, t("m.client.branches.slot")), slot);
  const radio = (value, text, checked) =>
    el(
      "label.choice",
      el("input", {
        type: "radio",
        name: id("when"),
        value,
        checked,
        onchange: () => {
          slotField.hidden = value !== "appointment";
        },
      }),
      " ",
      text,
    );
  const submit = el("button.btn.primary", { type: "submit" }, t("m.client.branches.submit"));
  const form = el(
    "form.form.take-form",
    {
      "aria-label": `${t("m.client.branches.take")} · ${branch.name}`,
      onsubmit: (event) => {
        event.preventDefault();
        const appointment = form.querySelector(`input[name="${id("when")}"]:checked`).value === "appointment";
        const body = { service: service.value, request_id: crypto.randomUUID() };
        if (appointment) {
          if (!slot.value) {
            toast(t("m.client.branches.no_slots"), "error");
            return;
          }
          body.appointment_at = slot.value;
        }
        act(submit, () => take(branch, body, user));
      },
    },
    el("label", { for: id("service") }, t("m.client.branches.service")),
    service,
    el("fieldset.when", el("legend", t("m.client.branches.when")), radio("now", t("m.client.branches.now"), true), radio("appointment", t("m.client.branches.appointment"), false)),
    slotField,
    el(
      "div.row.end",
      el("button.btn.secondary", { type: "button", onclick: () => toggle(branch.code, user) }, t("common.cancel")),
      submit,
    ),
  );
  return form;
}

async function take(branch, body, user) {
  let ticket;
  try {
    ticket = await api("POST", `/branches/${encodeURIComponent(branch.code)}/tickets`, { body, key: body.request_id });
  } catch (error) {
    const own = `m.client.err.${error.code}`;
    toast(t(own) !== own ? t(own, error.details || {}) : errorText(error), "error", 8000);
    return;
  }
  remember(user, ticket);
  toast(t("m.client.branches.taken", { ticket_no: ticket.ticket_no }), "ok");
  const query = new URLSearchParams({ branch: ticket.branch_id, no: ticket.ticket_no });
  location.assign(`/m/client/ticket?${query}`);
}

function toggle(code, user) {
  openForm = openForm === code ? null : code;
  draw(user);
  const target = openForm ? document.getElementById(`service-${code}`) : document.getElementById(`take-${code}`);
  target?.focus();
}

// ---------- the list ----------
function queueTable(branch) {
  const rows = branch.queue || [];
  if (!rows.length) return el("p.muted.small", t("common.empty"));
  return el(
    "table.table.queue",
    el(
      "thead",
      el(
        "tr",
        el("th", { scope: "col" }, t("m.client.branches.service")),
        el("th.num", { scope: "col" }, t("m.client.branches.waiting")),
        el("th.num", { scope: "col" }, t("m.client.branches.booked")),
        el("th.num", { scope: "col" }, t("m.client.branches.counters")),
      ),
    ),
    el(
      "tbody",
      rows.map((q) =>
        el(
          "tr",
          { dataset: { service: q.service } },
          el("td", label(q.service, "client")),
          el("td.num.waiting", String(q.waiting)),
          el("td.num", String(q.booked)),
          el("td.num", String(q.counters_open)),
        ),
      ),
    ),
  );
}

function card(branch, user) {
  const state =
    branch.open_now === null || branch.open_now === undefined
      ? null
      : el(`span.badge.${branch.open_now ? "ok" : "warn"}`, t(branch.open_now ? "m.client.branches.open" : "m.client.branches.closed"));
  const open = openForm === branch.code;
  return el(
    "section.card.branch",
    { dataset: { branch: branch.code }, "aria-labelledby": `name-${branch.code}` },
    el("div.row.between", el("h3", { id: `name-${branch.code}` }, branch.name), state),
    el("p.muted.small", `${branch.code} · ${todayHours(branch)}`),
    el("div.queue-wrap", queueTable(branch)),
    open
      ? takeForm(branch, user)
      : el(
          "button.btn.primary.block",
          { type: "button", id: `take-${branch.code}`, onclick: () => toggle(branch.code, user), disabled: !(branch.services || []).length },
          t("m.client.branches.take"),
        ),
  );
}

function draw(user) {
  // a form being filled in is kept as it is: only the queue tables are redrawn under it
  if (openForm && document.querySelector(`[data-branch="${openForm}"] form`)) {
    for (const branch of branches) {
      const section = document.querySelector(`[data-branch="${branch.code}"]`);
      const wrap = section?.querySelector(".queue-wrap");
      if (wrap) fill(wrap, queueTable(branch));
    }
    return;
  }
  fill("#branches", branches.length ? branches.map((b) => card(b, user)) : el("p.muted.empty", t("common.empty")));
}

async function load(user) {
  branches = await all("/branches", {}, 400);
  draw(user);
}

function poll(user) {
  clearTimeout(timer);
  if (document.visibilityState !== "visible") return;
  timer = setTimeout(async () => {
    try {
      await load(user);
    } catch {
      // offline for a moment: the next round tries again
    }
    poll(user);
  }, POLL_MS);
}

start({ roles: ["client"] }, async (user) => {
  $("#mine").hidden = !remembered(user).length;
  await load(user);
  poll(user);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") load(user).catch(() => {});
    poll(user);
  });
  await onLive("queue.update", (update) => {
    if (update.ticket && OPEN.has(update.ticket.status)) $("#mine").hidden = false;
    load(user).catch(() => {});
  });
});
