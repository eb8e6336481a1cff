// The factory's robots (GET /rpa/robots): version, department, schedule, enabled and last run
// (GET /rpa/runs?robot=&limit=1). Operators may start a run now (POST /rpa/robots/{name}/runs);
// admins roll back, enable and disable (POST /rpa/robots/{name}/rollback|enable|disable).
import { act, all, api, badge, el, fill, label, start, t, table, toast, when } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.rpa.robots.${name}`, params);

function schedule(r) {
  const s = r.schedule || r.manifest?.schedule || {};
  if (s.cron) return `cron ${s.cron}`;
  if (s.every_s) return K("every", { s: s.every_s });
  return K("on_demand");
}

async function lastRun(name) {
  const page = await api("GET", "/rpa/runs", { query: { robot: name, limit: 1 } });
  return page.items[0] || null;
}

function button(text, action, cls = "") {
  const b = el(`button.btn${cls}`, { type: "button" }, text);
  b.addEventListener("click", () => act(b, action));
  return b;
}

async function load(user) {
  // the whole list, whether the factory's list is one object or a cursor page
  const first = await api("GET", "/rpa/robots");
  const robots = first.next_cursor ? await all("/rpa/robots") : first.items;
  const last = await Promise.all(robots.map((r) => lastRun(r.name).catch(() => null)));
  const rows = robots.map((r, i) => ({ ...r, last: last[i] }));
  const post = async (r, what, body = {}) => {
    await api("POST", `/rpa/robots/${encodeURIComponent(r.name)}/${what}`, { body });
    toast(K(`${what}_done`, { name: r.name }), "ok");
    await load(user);
  };
  fill(
    "#robots",
    table(
      [
        { label: K("name"), value: (r) => el("span", { title: r.title || "" }, r.name) },
        { label: K("version"), value: (r) => r.version || r.active_version || "—" },
        { label: K("department"), value: (r) => label(r.department, "rpa") },
        { label: K("schedule"), value: (r) => schedule(r) },
        { label: K("enabled"), value: (r) => (r.enabled ? badge(K("on"), "ok") : badge(K("off"), "bad")) },
        {
          label: K("last_run"),
          value: (r) => (r.last ? el("a", { href: `/console/rpa/run?run=${r.last.id}` }, `${when(r.last.created_at)} · ${label(r.last.status, "rpa")}`) : "—"),
        },
        {
          label: K("actions"),
          value: (r) =>
            el(
              "div.row",
              r.enabled ? button(K("run_now"), () => post(r, "runs", {}), ".primary") : null,
              user.role === "admin" ? button(K("rollback"), () => post(r, "rollback")) : null,
              user.role === "admin" ? button(r.enabled ? K("disable") : K("enable"), () => post(r, r.enabled ? "disable" : "enable")) : null,
            ),
        },
      ],
      rows,
      { empty: K("none") },
    ),
  );
}

start({ roles: ["operator", "admin"] }, load);
