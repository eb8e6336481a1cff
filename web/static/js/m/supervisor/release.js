// Supervisor: release a car that may leave the yard: redeemed (repaid), or granted release
// before repayment (in stock with a repay-by date). The supervisor checks it first: types the
// VIN read on the car (it must match) and ticks that the certificate was checked; then
// POST /floorplan/vehicles/{vin}/release. The API refuses a car that may not leave.
import { act, all, api, confirm, el, fill, money, start, t, toast, when } from "/web/static/js/finedge.js";
import { fpBadge, listOf } from "/web/static/js/floorplan.js";

const K = (name) => t(`m.supervisor.release.${name}`);
let yards = new Map();

function checkForm(car) {
  const id = car.vin.toLowerCase();
  const typed = el("input", { id: `vin-${id}`, maxlength: 17, autocomplete: "off", autocapitalize: "characters", spellcheck: "false" });
  const tick = el("input", { type: "checkbox", id: `cert-${id}` });
  const warn = el("p.error.small", { hidden: true, role: "alert" }, K("vin_differs"));
  const button = el("button.btn.primary.block", { type: "submit", disabled: true }, K("release"));
  const update = () => {
    const value = typed.value.trim().toUpperCase();
    warn.hidden = !value || value === car.vin || car.vin.startsWith(value);
    button.disabled = !(value === car.vin && tick.checked);
  };
  typed.addEventListener("input", update);
  tick.addEventListener("change", update);
  const form = el(
    "form.form",
    { novalidate: true },
    el("label", { for: `vin-${id}` }, K("type_vin")),
    typed,
    warn,
    el("label.field", tick, " ", K("certificate_checked")),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled || !(await confirm(t("m.supervisor.release.release_q", { vin: car.vin })))) return;
    const done = await act(button, () => api("POST", `/floorplan/vehicles/${car.vin}/release`, { body: {} }));
    if (done) {
      toast(t("m.supervisor.release.done", { vin: car.vin }), "ok");
      await render();
    }
  });
  return form;
}

function item(car) {
  const box = el("div", { hidden: true });
  const open = el(
    "button.btn.small.secondary",
    {
      type: "button",
      "aria-expanded": "false",
      onclick: (event) => {
        const shown = box.hidden;
        box.hidden = !shown;
        event.currentTarget.setAttribute("aria-expanded", String(shown));
        if (shown && !box.firstChild) box.append(checkForm(car));
        if (shown) box.querySelector("input")?.focus();
      },
    },
    K("check"),
  );
  const since = car.status === "redeemed" ? `${K("redeemed_at")} ${when(car.redeemed_at)}` : `${K("repay_by")} ${when(car.repay_by)}`;
  return el(
    "li.stacked",
    { dataset: { vin: car.vin } },
    el(
      "div.row.between",
      el("div", el("strong", car.vin), el("div.muted.small", `${car.model} · ${money(car.price)} · ${yards.get(car.warehouse_id) || ""}`), el("div.muted.small", since)),
      el("span.row", fpBadge(car.status), open),
    ),
    box,
  );
}

async function render() {
  const [redeemed, inStock] = await Promise.all([
    all("/floorplan/vehicles", { status: "redeemed" }),
    all("/floorplan/vehicles", { status: "in_stock" }),
  ]);
  const cars = [...redeemed.filter((v) => !v.released_at), ...inStock.filter((v) => v.repay_by)];
  fill("#ready", listOf(cars, item));
}

start({ roles: ["supervisor"] }, async () => {
  yards = new Map((await all("/floorplan/warehouses")).map((w) => [w.id, w.name]));
  await render();
});
