// The clearing service for bank staff: clearing houses (GET /clearing/houses), pending gaps and
// gap alarms (GET /clearing/gaps, /clearing/gap-alarms), reconciliation runs and their open
// differences with "resolve" (GET /clearing/reconciliations, /clearing/differences, POST
// /clearing/differences/{id}/resolve), trader accounts and the instruction log.
import { act, all, api, badge, el, fill, label, money, start, t, table, toast, when } from "/web/static/js/finedge.js";

const K = (name) => t(`console.industrial.clearing.${name}`);
const KIND = { applied: "ok", matched: "ok", pending: "warn", open: "warn", rejected: "danger", differences: "danger", closed: "", resolved: "" };
const state = (value) => badge(label(value, "industrial_clearing"), KIND[value] || "");

async function render() {
  const [houses, gaps, alarms, runs, diffs, accounts, log] = await Promise.all([
    all("/clearing/houses"),
    all("/clearing/gaps"),
    api("GET", "/clearing/gap-alarms", { query: { limit: 50 } }),
    api("GET", "/clearing/reconciliations", { query: { limit: 10 } }),
    all("/clearing/differences", { status: "open" }, 500),
    all("/clearing/accounts"),
    api("GET", "/clearing/instruction-log", { query: { limit: 50 } }),
  ]);
  const names = new Map(accounts.map((a) => [a.id, a.account_no]));
  fill("#houses", table([
    { label: K("code"), value: (h) => h.code },
    { label: K("name"), value: (h) => h.name },
    { label: K("window"), class: "num", value: (h) => `${h.replay_window_s} s` },
    { label: K("gap_limit"), class: "num", value: (h) => `${h.gap_alarm_s} s` },
    { label: K("status"), value: (h) => h.status },
  ], houses));
  fill("#gaps", table([
    { label: K("account"), value: (g) => g.account_no },
    { label: K("next_seq"), class: "num", value: (g) => String(g.next_seq) },
    { label: K("first_pending"), class: "num", value: (g) => String(g.first_pending_seq) },
    { label: K("pending"), class: "num", value: (g) => String(g.pending) },
    { label: K("since"), value: (g) => when(g.oldest_received_at) },
  ], gaps, { empty: K("no_gaps") }));
  fill("#alarms", table([
    { label: K("account"), value: (a) => names.get(a.account_id) || `#${a.account_id}` },
    { label: K("missing"), value: (a) => `${a.missing_from}–${a.missing_to}` },
    { label: K("raised"), value: (a) => when(a.raised_at) },
    { label: K("status"), value: (a) => state(a.status) },
  ], alarms.items, { empty: K("no_alarms") }));
  fill("#runs", table([
    { label: K("date"), value: (r) => r.business_date },
    { label: K("source"), value: (r) => r.source },
    { label: K("rows"), class: "num", value: (r) => String(r.rows) },
    { label: K("difference_count"), class: "num", value: (r) => String(r.differences) },
    { label: K("status"), value: (r) => state(r.status) },
  ], runs.items, { caption: K("runs") }));
  fill("#diffs", table([
    { label: K("account"), value: (d) => d.account_no },
    { label: K("field"), value: (d) => label(d.field, "industrial_clearing") },
    { label: K("ours"), class: "num", value: (d) => d.ours || "—" },
    { label: K("theirs"), class: "num", value: (d) => d.theirs || "—" },
    { label: K("amount"), class: "num", value: (d) => money(d.amount) },
    { label: "", value: (d) => el("button.btn.small", { type: "button", onclick: (e) => act(e.currentTarget, async () => {
      await api("POST", `/clearing/differences/${d.id}/resolve`, { body: {} });
      toast(K("resolved"), "ok");
      await render();
    }) }, K("resolve")) },
  ], diffs, { empty: K("no_differences") }));
  fill("#accounts", table([
    { label: K("account"), value: (a) => `${a.account_no} · ${a.label}` },
    { label: K("balance"), class: "num", value: (a) => money(a.balance) },
    { label: K("held"), class: "num", value: (a) => money(a.held) },
    { label: K("available"), class: "num", value: (a) => money(a.available) },
    { label: K("next_seq"), class: "num", value: (a) => String(a.next_seq) },
  ], accounts));
  fill("#log", table([
    { label: K("account"), value: (i) => names.get(i.account_id) || `#${i.account_id}` },
    { label: "seq", class: "num", value: (i) => String(i.seq) },
    { label: K("kind"), value: (i) => label(i.kind, "industrial_clearing") },
    { label: K("order"), value: (i) => i.order_ref },
    { label: K("amount"), class: "num", value: (i) => (i.kind === "cancel" ? "—" : money(i.amount)) },
    { label: K("received"), value: (i) => when(i.received_at) },
    { label: K("status"), value: (i) => state(i.status) },
  ], log.items));
}

start({ roles: ["rm", "approver", "admin"] }, render);
