// Supervisor: inventory audits of the yards it watches. The list (GET /floorplan/audits) and a
// form to open one (POST /floorplan/audits); ?id=<audit> shows one audit car by car
// (GET /floorplan/audits/{id}): each sampled car is checked with the certificate seen and its
// location (POST /floorplan/audits/{id}/checks; a car not on the list too), and the audit is
// closed (POST .../close: every car not checked becomes missing, out of trust).
import { act, all, api, confirm, el, fill, param, start, t, toast, when } from "/web/static/js/finedge.js";
import { fpBadge, listOf } from "/web/static/js/floorplan.js";

const K = (name) => t(`m.supervisor.audits.${name}`);
let yards = new Map();

// the counts of a closed audit (an open one's are kept car by car: its page shows them)
function summaryOf(a) {
  if (a.status === "open") return `${K("expected")} ${a.expected_count}`;
  return t("m.supervisor.audits.progress", { done: a.present_count + a.mismatch_count, total: a.expected_count });
}

async function overview() {
  const audits = (await all("/floorplan/audits")).sort((a, b) => (a.status === b.status ? b.id - a.id : a.status === "open" ? -1 : 1));
  fill(
    "#audits",
    listOf(audits, (a) =>
            el(
              "li",
              { dataset: { audit: a.id } },
              el(
                "a.item",
                { href: `/m/supervisor/audits?id=${a.id}` },
                el("strong", `#${a.id} · ${yards.get(a.warehouse_id) || ""}`),
                el("div.muted.small", `${when(a.opened_at)} · ${summaryOf(a)}`),
              ),
              fpBadge(a.status),
            ),),
  );
  const select = document.getElementById("yard");
  fill(select, [...yards].map(([id, name]) => el("option", { value: id }, name)));
  const form = document.getElementById("open-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const audit = await act(form.querySelector("button"), () =>
      api("POST", "/floorplan/audits", { body: { warehouse_id: Number(select.value) } }),
    );
    if (audit) {
      toast(K("opened"), "ok");
      location.assign(`/m/supervisor/audits?id=${audit.id}`);
    }
  });
}

function checkForm(audit, vin, after) {
  const id = vin.toLowerCase();
  const cert = el("input", { id: `cert-${id}`, maxlength: 40, autocomplete: "off" });
  const where = el("input", { id: `loc-${id}`, maxlength: 120, autocomplete: "off" });
  const button = el("button.btn.small.primary", { type: "submit" }, K("present"));
  const form = el(
    "form.form",
    { novalidate: true },
    el("label", { for: `cert-${id}` }, K("certificate_seen")),
    cert,
    el("label", { for: `loc-${id}` }, K("location")),
    where,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await record(audit, button, { vin, certificate_no: cert.value.trim() || undefined, location: where.value.trim() || undefined }, after);
  });
  return form;
}

async function record(audit, button, body, after) {
  const check = await act(button, () => api("POST", `/floorplan/audits/${audit.id}/checks`, { body }));
  if (check) {
    toast(t("m.supervisor.audits.checked", { vin: check.vin, result: fpBadge(check.result).textContent }), check.result === "present" ? "ok" : "error");
    await after();
  }
}

async function detail(id) {
  document.getElementById("overview").hidden = true;
  document.getElementById("detail").hidden = false;
  document.getElementById("back").addEventListener("click", () => location.assign("/m/supervisor/audits"));
  const draw = async () => {
    const audit = await api("GET", `/floorplan/audits/${id}`);
    fill("#detail-h", `#${audit.id} · ${yards.get(audit.warehouse_id) || ""} `, fpBadge(audit.status));
    const done = audit.checks.filter((c) => c.expected && c.result !== "pending").length;
    fill(
      "#detail-meta",
      `${when(audit.opened_at)} · ${fpBadge(audit.risk_tier).textContent} · ${t("m.supervisor.audits.progress", { done, total: audit.expected_count })}`,
    );
    const open = audit.status === "open";
    fill(
      "#checks",
      listOf(audit.checks, (c) =>
              el(
                "li.stacked",
                { dataset: { vin: c.vin, result: c.result } },
                el(
                  "div.row.between",
                  el("div", el("strong", c.vin), c.checked_at ? el("div.muted.small", `${when(c.checked_at)} · ${c.location || ""}`) : null),
                  fpBadge(c.result),
                ),
                open && c.result === "pending" ? checkForm(audit, c.vin, draw) : null,
              ),),
    );
    document.getElementById("close").hidden = !open;
    document.getElementById("other-form").closest("details").hidden = !open;
    return audit;
  };
  const audit = await draw();
  const other = document.getElementById("other-form");
  other.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { vin: other.vin.value.trim().toUpperCase() };
    if (other.certificate_no.value.trim()) body.certificate_no = other.certificate_no.value.trim();
    if (other.location.value.trim()) body.location = other.location.value.trim();
    await record(audit, other.querySelector("button"), body, async () => {
      other.reset();
      await draw();
    });
  });
  document.getElementById("close").addEventListener("click", async (event) => {
    if (!(await confirm(K("close_q")))) return;
    const closed = await act(event.currentTarget, () => api("POST", `/floorplan/audits/${id}/close`, { body: {} }));
    if (closed) {
      toast(K("closed"), "ok");
      await draw();
    }
  });
}

start({ roles: ["supervisor"] }, async () => {
  yards = new Map((await all("/floorplan/warehouses")).map((w) => [w.id, w.name]));
  const id = Number(param("id"));
  if (id) await detail(id);
  else await overview();
});
