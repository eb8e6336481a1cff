// My clients arriving at branches: the recent sightings of my VIP clients at branch doors
// (GET /face/arrivals, newest first, paged) and each new `client.arrived` push at the top as it
// comes (a consenting VIP client of this RM recognised at a branch door).
import { $, act, api, el, fill, onLive, start, t, toast, when } from "/web/static/js/finedge.js";

let arrivals = [];
let cursor = null;

function draw() {
  fill(
    "#arrivals",
    arrivals.length
      ? arrivals.map((a) =>
          el(
            "li",
            { dataset: { client: String(a.client_id) }, class: a.live ? "rm-live" : null },
            el("div", el("strong", a.name || `#${a.client_id}`), " ", a.segment === "vip" ? el("span.badge.strong", t("m.rm.arrivals.vip")) : null),
            el("span.small.muted", t("m.rm.arrivals.at_branch", { branch: a.branch_id, time: when(a.at) })),
          ),
        )
      : el("li.muted", t("m.rm.arrivals.waiting")),
  );
  $("#more").hidden = !cursor;
}

async function page(reset) {
  const data = await api("GET", "/face/arrivals", { query: { limit: 30, cursor: reset ? undefined : cursor } });
  cursor = data.next_cursor;
  arrivals = reset ? [...arrivals.filter((a) => a.live), ...data.items] : [...arrivals, ...data.items];
  draw();
}

start({ roles: ["rm"] }, async () => {
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => page(false)));
  await page(true);
  await onLive("client.arrived", (payload) => {
    arrivals.unshift({ ...payload, live: true });
    draw();
    toast(t("m.rm.arrivals.arrived", { name: payload.name || `#${payload.client_id}` }));
  });
});
