// Credit lines and their maker-checker requests: the lines (GET /floorplan/credit-lines), the
// requests waiting (GET /floorplan/credit-line-requests?status=pending) with approve and reject
// (an approver other than the maker: the API refuses the maker, and the page says so), a form
// for a maker's proposal (POST /floorplan/credit-line-requests) and the decided requests.
import { act, all, api, confirm, el, errorText, fill, money, start, t, table, toast, when } from "/web/static/js/finedge.js";
import { fpBadge, moneyInput } from "/web/static/js/floorplan.js";

const K = (name) => t(`console.floorplan.lines.${name}`);
let dealers = new Map();

const dealerName = (id) => {
  const d = dealers.get(id);
  return d ? `${d.dealer_code} · ${d.dealer_name}` : `#${id}`;
};

function showRefusal(error) {
  const box = document.getElementById("requests-error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = K("refused").replace("{reason}", errorText(error));
  box.hidden = false;
}

async function decide(button, request, action) {
  const question = action === "approve" ? "approve_q" : "reject_q";
  if (!(await confirm(t(`console.floorplan.lines.${question}`, { dealer: dealerName(request.dealer_id), limit: money(request.limit) })))) return;
  showRefusal(null);
  button.disabled = true;
  try {
    await api("POST", `/floorplan/credit-line-requests/${request.id}/${action}`, { body: {} });
    toast(K(action === "approve" ? "approved" : "rejected"), "ok");
    await render();
  } catch (error) {
    showRefusal(error);
    toast(errorText(error), "error", 8000);
  } finally {
    button.disabled = false;
  }
}

const requestColumns = [
  { label: "#", class: "id", value: (r) => String(r.id) },
  { label: K("dealer"), class: "dealer", value: (r) => dealerName(r.dealer_id) },
  { label: K("limit"), class: "num limit", value: (r) => money(r.limit) },
  { label: K("margin_ratio"), class: "num", value: (r) => r.margin_ratio },
  { label: K("trusted"), value: (r) => t(r.trusted ? "common.yes" : "common.no") },
  { label: K("rbr_limit"), class: "num", value: (r) => money(r.rbr_limit) },
  { label: K("maker"), class: "maker", value: (r) => r.maker },
  { label: K("created"), value: (r) => when(r.created_at) },
  { label: K("note"), value: (r) => r.note || "—" },
];

async function render() {
  const [overview, lines, requests] = await Promise.all([
    all("/floorplan/dealers"),
    all("/floorplan/credit-lines"),
    all("/floorplan/credit-line-requests"),
  ]);
  dealers = new Map(overview.map((d) => [d.dealer_id, d]));
  fill(
    "#lines",
    table(
      [
        { label: K("dealer"), class: "dealer", value: (l) => el("a", { href: `/console/floorplan/dealer?id=${l.dealer_id}` }, dealerName(l.dealer_id)) },
        { label: t("common.status"), value: (l) => fpBadge(l.status) },
        { label: K("limit"), class: "num limit", value: (l) => money(l.limit) },
        { label: K("used"), class: "num", value: (l) => money(l.used) },
        { label: K("available"), class: "num", value: (l) => money(l.available) },
        { label: K("margin_ratio"), class: "num", value: (l) => l.margin_ratio },
        { label: K("trusted"), value: (l) => t(l.trusted ? "common.yes" : "common.no") },
        { label: K("rbr_limit"), class: "num", value: (l) => `${money(l.rbr_used)} / ${money(l.rbr_limit)}` },
        { label: K("updated"), value: (l) => when(l.updated_at) },
      ],
      lines,
    ),
  );
  const pending = requests.filter((r) => r.status === "pending").sort((a, b) => b.id - a.id);
  fill(
    "#pending",
    table(
      [
        ...requestColumns,
        {
          label: t("common.actions"),
          value: (r) =>
            el(
              "span.row",
              el("button.btn.small.primary", { type: "button", dataset: { approve: r.id }, onclick: (e) => decide(e.currentTarget, r, "approve") }, K("approve")),
              el("button.btn.small.danger", { type: "button", dataset: { reject: r.id }, onclick: (e) => decide(e.currentTarget, r, "reject") }, K("reject")),
            ),
        },
      ],
      pending,
    ),
  );
  const decided = requests.filter((r) => r.status !== "pending").sort((a, b) => b.id - a.id);
  fill(
    "#decided",
    table(
      [
        ...requestColumns,
        { label: t("common.status"), value: (r) => fpBadge(r.status) },
        { label: K("checker"), class: "checker", value: (r) => r.checker || "—" },
      ],
      decided,
    ),
  );
  const select = document.getElementById("p-dealer");
  const chosen = select.value;
  fill(select, overview.map((d) => el("option", { value: d.dealer_id }, `${d.dealer_code} · ${d.dealer_name}`)));
  if (chosen) select.value = chosen;
}

function propose(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const limit = moneyInput(form.limit.value);
    const rbr = moneyInput(form.rbr_limit.value || "0");
    if (!limit || rbr === null) {
      toast(t("error.validation_error"), "error");
      return;
    }
    const body = { dealer_id: Number(form.dealer_id.value), limit, trusted: form.trusted.checked, rbr_limit: rbr };
    if (form.margin_ratio.value.trim()) body.margin_ratio = form.margin_ratio.value.trim();
    if (form.note.value.trim()) body.note = form.note.value.trim();
    const made = await act(form.querySelector("button[type=submit]"), () => api("POST", "/floorplan/credit-line-requests", { body }));
    if (made) {
      toast(K("proposed"), "ok");
      form.reset();
      await render();
    }
  });
}

start({ roles: ["rm", "approver", "admin"] }, async () => {
  propose(document.getElementById("propose-form"));
  await render();
});
