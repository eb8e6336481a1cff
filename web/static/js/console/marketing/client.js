// One client's 360 (GET /marketing/clients/{id}, ?id=): profile, AUM and tier, tags (rule or
// model), holdings with their maturities, marketing events, consent per channel with Grant /
// Withdraw and the do-not-disturb hours (PUT /marketing/clients/{id}/consents), the last
// transactions. An RM sees only their own clients; every check is the API's.
import { $, act, api, badge, el, fill, label, money, param, start, t, table, toast, when } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.marketing.client.${name}`, params);
const L = (value) => label(value, "marketing");
const id = Number(param("id"));

const button = (text, onclick) => el("button.btn.small.secondary", { type: "button", onclick: (e) => act(e.currentTarget, onclick) }, text);

async function consent(body) {
  await api("PUT", `/marketing/clients/${id}/consents`, { body });
  toast(K("saved"), "ok");
  await load();
}

function draw(c) {
  fill("#client-title", `${c.name} · ${c.client_no}`);
  const rows = [
    [K("tier"), badge(L(c.tier), "strong")],
    [K("aum"), `${money(c.aum)} (${c.aum_on})`],
    [K("age"), String(c.age)],
    [K("outlet"), c.outlet],
    [K("rm"), c.rm_user_id ? `#${c.rm_user_id}` : "—"],
    [K("risk_level"), String(c.risk_level)],
    [K("digital"), c.digital_active ? K("yes") : K("no")],
    [K("last_txn"), c.last_txn_at ? when(c.last_txn_at) : "—"],
    [K("dnd"), c.dnd_from ? `${c.dnd_from}–${c.dnd_to}` : "—"],
  ];
  fill("#profile", rows.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
  fill("#tags", ...c.tag_details.map((tag) => badge(tag.source === "model" ? `${tag.tag} (${tag.score?.toFixed(2) ?? ""})` : tag.tag, tag.source === "model" ? "strong" : "")));
  fill(
    "#holdings",
    table(
      [
        { label: K("product"), value: (h) => `${h.product_name} (${h.product_code})` },
        { label: K("kind"), value: (h) => label(h.kind, "marketing_holding") },
        { label: K("amount"), class: "num", value: (h) => money(h.amount) },
        { label: K("rate"), class: "num", value: (h) => (h.rate ? `${h.rate}%` : "—") },
        { label: K("matures_on"), value: (h) => (h.matures_on ? K("matures", { date: h.matures_on, days: h.days_to_maturity }) : "—") },
        { label: t("common.status"), value: (h) => L(h.status) },
      ],
      c.holdings,
    ),
  );
  fill(
    "#events",
    table(
      [
        { label: K("event"), value: (e) => badge(L(e.kind), e.kind.startsWith("large") || e.kind === "vip_arrival" ? "strong" : "") },
        { label: K("window"), value: (e) => e.window_key },
        { label: K("occurred_at"), value: (e) => when(e.occurred_at) },
        { label: K("amount"), class: "num", value: (e) => (e.amount ? money(e.amount) : "—") },
      ],
      c.events,
    ),
  );
  fill(
    "#consents",
    table(
      [
        { label: K("channel"), value: (x) => L(x.channel) },
        { label: t("common.status"), value: (x) => badge(x.granted ? K("granted") : K("not_granted"), x.granted ? "ok" : "") },
        { label: K("recorded_at"), value: (x) => (x.recorded_at ? when(x.recorded_at) : "—") },
        { label: "", value: (x) => button(x.granted ? K("withdraw") : K("grant"), () => consent({ channel: x.channel, granted: !x.granted })) },
      ],
      c.consents,
    ),
  );
  $("#d-from").value = c.dnd_from || "";
  $("#d-to").value = c.dnd_to || "";
  fill(
    "#transactions",
    table(
      [
        { label: K("at"), value: (x) => when(x.at) },
        { label: K("kind"), value: (x) => L(x.kind) },
        { label: K("channel"), value: (x) => x.channel },
        { label: K("amount"), class: "num", value: (x) => money(x.amount) },
      ],
      c.transactions,
    ),
  );
}

async function load() {
  draw(await api("GET", `/marketing/clients/${id}`));
}

start({ roles: ["rm", "marketing", "admin"] }, async () => {
  $("#dnd").addEventListener("submit", (e) => {
    e.preventDefault();
    const from = $("#d-from").value.trim();
    const to = $("#d-to").value.trim();
    act(e.submitter, () => consent({ dnd_from: from || null, dnd_to: to || null }));
  });
  await load();
});
