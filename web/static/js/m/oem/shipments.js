// OEM: its shipments (GET /floorplan/shipments), each with its cars on demand
// (GET /floorplan/shipments/{id}), and a new shipping list for an issued bill
// (POST /floorplan/shipments: the bill, the dealer's yard, the cars; prices add up to the bill);
// a shipment in transit is marked arrived at the yard (POST /floorplan/shipments/{id}/arrive).
import { act, all, api, confirm, el, fill, money, start, t, toast, when } from "/web/static/js/finedge.js";
import { fpBadge, listOf, moneyInput, sumMoney } from "/web/static/js/floorplan.js";

const K = (name) => t(`m.oem.shipments.${name}`);
let dealers = new Map();
let yards = [];
let bills = [];
let lineNo = 0;

const dealerName = (id) => dealers.get(id) || `#${id}`;

function carsOf(shipment, box) {
  return async (event) => {
    const button = event.currentTarget;
    if (!box.hidden) {
      box.hidden = true;
      button.textContent = K("show");
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const detail = await act(button, () => api("GET", `/floorplan/shipments/${shipment.id}`));
    if (!detail) return;
    fill(
      box,
      el(
        "ul.list.cars",
        detail.vehicles.map((v) =>
          el("li", { dataset: { vin: v.vin } }, el("div", el("strong", v.vin), el("div.muted.small", `${v.model} · ${money(v.price)}`)), fpBadge(v.status)),
        ),
      ),
    );
    box.hidden = false;
    button.textContent = K("hide");
    button.setAttribute("aria-expanded", "true");
  };
}

async function arrive(button, shipment) {
  if (!(await confirm(t("m.oem.shipments.arrive_q", { id: shipment.id })))) return;
  const done = await act(button, () => api("POST", `/floorplan/shipments/${shipment.id}/arrive`, { body: {} }));
  if (done) {
    toast(K("arrived"), "ok");
    await list();
  }
}

async function list() {
  const shipments = (await all("/floorplan/shipments")).sort((a, b) => b.id - a.id);
  const billNo = new Map(bills.map((b) => [b.id, b.bill_no]));
  fill(
    "#shipments",
    listOf(shipments, (s) => {
            const box = el("div", { hidden: true });
            return el(
              "li.stacked",
              { dataset: { shipment: s.id } },
              el(
                "div.row.between",
                el(
                  "div",
                  el("strong", `#${s.id} · ${dealerName(s.dealer_id)}`),
                  el("div.muted.small", `${t("m.oem.common.bill")} ${billNo.get(s.bill_id) || s.bill_id} · ${K("cars").replace("{count}", s.vehicle_count)} · ${money(s.total_amount)}`),
                  el("div.muted.small", `${K("shipped_at")} ${when(s.shipped_at)}${s.arrived_at ? ` · ${K("arrived_at")} ${when(s.arrived_at)}` : ""}`),
                ),
                fpBadge(s.status),
              ),
              el(
                "span.row",
                el("button.btn.small.secondary", { type: "button", "aria-expanded": "false", onclick: carsOf(s, box) }, K("show")),
                s.status === "in_transit"
                  ? el("button.btn.small.primary", { type: "button", dataset: { arrive: s.id }, onclick: (e) => arrive(e.currentTarget, s) }, K("arrive"))
                  : null,
              ),
              box,
            );
          }),
  );
}

function carLine() {
  lineNo += 1;
  const n = lineNo;
  const field = (name, labelKey, attrs = {}) => [
    el("label", { for: `car-${n}-${name}` }, K(labelKey)),
    el("input", { id: `car-${n}-${name}`, name, autocomplete: "off", ...attrs }),
  ];
  const set = el(
    "fieldset",
    { dataset: { line: n } },
    el("legend", K("car_n").replace("{n}", n)),
    field("vin", "vin", { maxlength: 17, autocapitalize: "characters", spellcheck: "false" }),
    field("model", "model", { maxlength: 80 }),
    field("price", "price", { inputmode: "decimal" }),
    field("certificate_no", "certificate", { maxlength: 40 }),
    el("button.btn.small.secondary", { type: "button", onclick: () => { set.remove(); total(); } }, K("remove_car")),
  );
  set.querySelector("[name=price]").addEventListener("input", total);
  document.getElementById("car-lines").append(set);
}

function chosenBill() {
  const id = Number(document.getElementById("bill").value);
  return bills.find((b) => b.id === id);
}

function total() {
  const prices = [...document.querySelectorAll("#car-lines [name=price]")].map((i) => moneyInput(i.value) || "0");
  const bill = chosenBill();
  fill("#ship-total", K("total").replace("{total}", money(sumMoney(prices))).replace("{amount}", money(bill?.amount)));
}

function chooseBill() {
  const bill = chosenBill();
  const options = yards.filter((w) => w.dealer_id === bill?.dealer_id);
  fill("#yard", options.map((w) => el("option", { value: w.id }, w.name)));
  total();
}

function form() {
  const issued = bills.filter((b) => b.status === "issued");
  const select = document.getElementById("bill");
  fill(
    select,
    issued.length
      ? issued.map((b) => el("option", { value: b.id }, `${b.bill_no} · ${dealerName(b.dealer_id)} · ${money(b.amount)}`))
      : el("option", { value: "" }, K("no_bill")),
  );
  select.addEventListener("change", chooseBill);
  document.getElementById("add-car").addEventListener("click", carLine);
  carLine();
  chooseBill();
  const shipForm = document.getElementById("ship-form");
  shipForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const vehicles = [...document.querySelectorAll("#car-lines fieldset")].map((set) => ({
      vin: set.querySelector("[name=vin]").value.trim().toUpperCase(),
      model: set.querySelector("[name=model]").value.trim(),
      price: moneyInput(set.querySelector("[name=price]").value) || set.querySelector("[name=price]").value.trim(),
      certificate_no: set.querySelector("[name=certificate_no]").value.trim(),
    }));
    const body = { bill_id: Number(select.value), warehouse_id: Number(document.getElementById("yard").value), vehicles };
    const carrier = document.getElementById("carrier").value.trim();
    if (carrier) body.carrier_ref = carrier;
    const shipment = await act(shipForm.querySelector("button[type=submit]"), () => api("POST", "/floorplan/shipments", { body }));
    if (!shipment) return;
    toast(K("done"), "ok");
    shipForm.reset();
    fill("#car-lines");
    lineNo = 0;
    bills = await all("/floorplan/bills");
    const stillIssued = bills.filter((b) => b.status === "issued");
    fill(select, stillIssued.length ? stillIssued.map((b) => el("option", { value: b.id }, `${b.bill_no} · ${dealerName(b.dealer_id)} · ${money(b.amount)}`)) : el("option", { value: "" }, K("no_bill")));
    carLine();
    chooseBill();
    await list();
  });
}

start({ roles: ["oem"] }, async () => {
  const [overview, warehouses, allBills] = await Promise.all([all("/floorplan/dealers"), all("/floorplan/warehouses"), all("/floorplan/bills")]);
  dealers = new Map(overview.map((d) => [d.dealer_id, `${d.dealer_code} · ${d.dealer_name}`]));
  yards = warehouses;
  bills = allBills;
  form();
  await list();
});
