// Jobs (admin): every registered job with its schedule and latest run (GET
// /admin/jobs/schedule); a job's history (GET /admin/jobs?name=), and run now (POST
// /admin/jobs/{name}/run) after a confirmation: the run appears in its history.
import { $, act, all, api, badge, confirm, el, fill, label, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { pager } from "/web/static/js/console/admin/kit.js";

const OUTCOME = { ok: "ok", failed: "bad", skipped: "warn", running: "weak" };
let history = null;
let shown = null;

const outcome = (run) => (run ? badge(label(run.outcome, "admin"), OUTCOME[run.outcome]) : "—");
const result = (run) => (run?.error ? el("code.small.error", run.error.split("\n")[0]) : run?.result ? el("code.small", JSON.stringify(run.result)) : "—");

function schedule(job) {
  if (job.every_s) return t("console.admin.jobs.every", { s: job.every_s });
  if (job.cron) {
    const parts = Object.entries(job.cron).map(([k, v]) => `${k}=${v}`).join(" ");
    return t("console.admin.jobs.cron", { cron: parts });
  }
  return t("console.admin.jobs.manual");
}

async function showHistory(name) {
  shown = name;
  $("#history").hidden = false;
  $("#hist-h").textContent = t("console.admin.jobs.history", { name });
  history = pager(
    "#runs",
    [
      { label: "#", value: (r) => String(r.id) },
      { label: t("console.admin.jobs.started"), value: (r) => when(r.started_at) },
      { label: t("console.admin.jobs.finished"), value: (r) => when(r.finished_at) },
      { label: t("console.admin.jobs.trigger"), value: (r) => label(r.trigger, "admin") },
      { label: t("console.admin.jobs.outcome"), value: outcome },
      { label: t("console.admin.jobs.result"), value: result },
    ],
    (cursor) => api("GET", "/admin/jobs", { query: { name, cursor, limit: 20 } }),
  );
  await history.reload();
  $("#history").scrollIntoView({ block: "nearest" });
}

async function runNow(button, job) {
  if (!(await confirm(t("console.admin.jobs.run_confirm", { name: job.name })))) return;
  const run = await act(button, () => api("POST", `/admin/jobs/${encodeURIComponent(job.name)}/run`));
  if (!run) return;
  toast(t("console.admin.jobs.ran", { name: job.name, outcome: label(run.outcome, "admin") }), run.outcome === "failed" ? "error" : "ok");
  await load();
  await showHistory(job.name);
}

async function load() {
  const jobs = await all("/admin/jobs/schedule");
  fill(
    "#jobs",
    el(
      "div.table-wrap",
      table(
        [
          { label: t("console.admin.jobs.name"), value: (j) => [el("strong", j.name), el("div.muted.small", j.description || "")] },
          { label: t("console.admin.jobs.schedule"), value: schedule },
          { label: t("console.admin.jobs.last_run"), value: (j) => (j.last_run ? when(j.last_run.started_at) : t("console.admin.jobs.never")) },
          { label: t("console.admin.jobs.outcome"), value: (j) => outcome(j.last_run) },
          {
            label: t("common.actions"),
            value: (j) =>
              el(
                "div.row.actions",
                { dataset: { job: j.name } },
                el("button.btn.small.secondary", { type: "button", onclick: (e) => act(e.currentTarget, () => showHistory(j.name)) }, t("console.admin.jobs.show_history")),
                el("button.btn.small.primary", { type: "button", onclick: (e) => runNow(e.currentTarget, j) }, t("console.admin.jobs.run")),
              ),
          },
        ],
        jobs,
      ),
    ),
  );
}

start({ roles: ["admin"] }, async () => {
  await load();
  if (shown) await showHistory(shown);
});
