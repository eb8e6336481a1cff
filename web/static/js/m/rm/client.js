// An RM's client 360 on the phone: my clients (GET /marketing/clients, search by name or
// number); with ?id= one client's 360 (GET /marketing/clients/{id}): tier and AUM, tags, the
// recent events (large movements, maturities, VIP arrivals...), holdings with maturities, and
// consent per channel with Grant / Withdraw (PUT /marketing/clients/{id}/consents).
import { $, act, api, badge, el, fill, label, money, param, start, t, toast, when } from "/web/static/js/finedge.js";

const K = (name, params) => t(`m.rm.client.${name}`, params);
const L = (value) => label(value, "rm_client");
const id = Number(param("id"));
let cursor = null;
let items = [];

async function list(reset) {
  const query = { q: $("#q").value.trim(), limit: 30 };
  if (!reset) query.cursor = cursor;
  const page = await api("GET", "/marketing/clients", { query });
  cursor = page.next_cursor;
  items = reset ? page.items : [...items, ...page.items];
  fill(
    "#clients",
    items.length
      ? items.map((c) =>
          el(
            "li",
            el("a", { href: `/m/rm/client?id=${c.id}` }, el("strong", c.name), " ", badge(L(c.tier), "strong")),
            el("span.small.muted", `${c.client_no} · ${money(c.aum)}`),
          ),
        )
      : el("li.muted", K("none")),
  );
  $("#more").hidden = !cursor;
}

async function detail() {
  const c = await api("GET", `/marketing/clients/${id}`);
  $("#detail").hidden = false;
  $("#search").hidden = true;
  fill("#name", `${c.name} `, badge(L(c.tier), "strong"));
  const rows = [
    [K("aum"), money(c.aum)],
    [K("age"), String(c.age)],
    [K("tags"), c.tags.join(" · ") || "—"],
    [K("dnd"), c.dnd_from ? `${c.dnd_from}–${c.dnd_to}` : "—"],
  ];
  fill("#profile", rows.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
  fill("#events", c.events.length ? c.events.map((e) => el("li", el("strong", L(e.kind)), " ", el("span.small.muted", `${when(e.occurred_at)}${e.amount ? ` · ${money(e.amount)}` : ""}`))) : el("li.muted", K("no_events")));
  fill(
    "#holdings",
    c.holdings.map((h) => el("li", el("strong", h.product_name), " ", money(h.amount), h.matures_on ? el("span.small.muted", ` ${K("matures", { date: h.matures_on, days: h.days_to_maturity })}`) : "")),
  );
  fill(
    "#consents",
    c.consents.map((x) =>
      el(
        "li",
        el("strong", L(x.channel)),
        " ",
        badge(x.granted ? K("granted") : K("not_granted"), x.granted ? "ok" : ""),
        " ",
        el(
          "button.btn.small.secondary",
          {
            type: "button",
            onclick: (e) =>
              act(e.currentTarget, async () => {
                await api("PUT", `/marketing/clients/${id}/consents`, { body: { channel: x.channel, granted: !x.granted } });
                toast(K("saved"), "ok");
                await detail();
              }),
          },
          x.granted ? K("withdraw") : K("grant"),
        ),
      ),
    ),
  );
}

start({ roles: ["rm"] }, async () => {
  if (id) {
    await detail();
    return;
  }
  $("#search").addEventListener("submit", (e) => {
    e.preventDefault();
    act(e.submitter, () => list(true));
  });
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => list(false)));
  await list(true);
});
