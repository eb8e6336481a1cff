// The RM's risk signal inbox (GET /risk/inbox): signals routed to them (raised, escalated,
// review requested, decided), newest first, unread marked; "mark read" (POST
// /risk/inbox/{id}/read). A `risk.signal` push reloads the first page.
import { $, act, api, badge, el, fill, label, onLive, start, t, toast, when } from "/web/static/js/finedge.js";

let items = [];
let cursor = null;

function item(entry) {
  const s = entry.signal || {};
  const unread = !entry.read_at;
  return el(
    "li",
    { class: unread ? "rm-unread" : null, dataset: { item: String(entry.id), level: s.level || "" } },
    el(
      "div.rm-item",
      el("div.row", badge(label(s.level, "risk"), s.level), badge(label(entry.reason, "risk")), s.blocking ? badge(t("m.rm.signals.blocking"), "hard") : null, unread ? badge(t("m.rm.signals.unread"), "warn") : null),
      el("strong", s.enterprise_name || "—"),
      el("div.small", s.reason),
      el("div.small.muted", `${s.rule_id} · ${label(s.status, "risk")} · ${when(entry.created_at)}`),
    ),
    unread
      ? el(
          "button.btn.small.secondary",
          {
            type: "button",
            dataset: { read: String(entry.id) },
            onclick: (e) =>
              act(e.currentTarget, async () => {
                const updated = await api("POST", `/risk/inbox/${entry.id}/read`);
                items = items.map((i) => (i.id === entry.id ? updated : i)).filter((i) => !$("#unread-only").checked || !i.read_at);
                draw();
              }),
          },
          t("m.rm.signals.mark_read"),
        )
      : el("span.muted.small", t("m.rm.signals.read")),
  );
}

function draw() {
  fill("#inbox", items.length ? items.map(item) : el("li.muted", t("m.rm.signals.empty")));
  fill("#unread-count", t("m.rm.signals.count", { count: items.filter((i) => !i.read_at).length }));
  $("#more").hidden = !cursor;
}

async function page(reset) {
  const data = await api("GET", "/risk/inbox", { query: { unread: $("#unread-only").checked ? "true" : undefined, limit: 30, cursor: reset ? undefined : cursor } });
  cursor = data.next_cursor;
  items = reset ? data.items : [...items, ...data.items];
  draw();
}

start({ roles: ["rm"] }, async () => {
  $("#unread-only").addEventListener("change", () => act(null, () => page(true)));
  $("#more").addEventListener("click", (e) => act(e.currentTarget, () => page(false)));
  await page(true);
  await onLive("risk.signal", () =>
    act(null, async () => {
      await page(true);
      toast(t("m.rm.signals.new"));
    }),
  );
});
