// My clients arriving at branches: each `client.arrived` push (a consenting VIP client of this
// RM recognised at a branch door) is listed as it comes, newest first. The API has no list of
// past arrivals, so the page shows those since it was opened (and says so).
import { el, fill, onLive, start, t, toast, when } from "/web/static/js/finedge.js";

const arrivals = [];

function draw() {
  fill(
    "#arrivals",
    arrivals.length
      ? arrivals.map((a) =>
          el(
            "li",
            { dataset: { client: String(a.client_id) } },
            el("div", el("strong", a.name || `#${a.client_id}`), " ", a.segment === "vip" ? el("span.badge.strong", t("m.rm.arrivals.vip")) : null),
            el("span.small.muted", t("m.rm.arrivals.at_branch", { branch: a.branch_id, time: when(a.at, { date: false }) })),
          ),
        )
      : el("li.muted", t("m.rm.arrivals.waiting")),
  );
}

start({ roles: ["rm"] }, async () => {
  draw();
  await onLive("client.arrived", (payload) => {
    arrivals.unshift(payload);
    arrivals.splice(50);
    draw();
    toast(t("m.rm.arrivals.arrived", { name: payload.name || `#${payload.client_id}` }));
  });
});
