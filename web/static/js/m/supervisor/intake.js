// Supervisor: take a car in by its VIN and certificate number, typed, or scanned with the
// phone's camera where the browser can (POST /floorplan/vehicles/{vin}/intake). Below, the cars
// on their way to the supervisor's yards (in transit or arrived), to fill the VIN from.
import { act, all, api, el, fill, money, start, t, toast, when } from "/web/static/js/finedge.js";
import { fpBadge, listOf } from "/web/static/js/floorplan.js";
import { canScan, scanInto } from "/web/static/js/scanner.js";

const K = (name) => t(`m.supervisor.intake.${name}`);
const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;
let yards = new Map();

function setupScanning(form) {
  const buttons = [...form.querySelectorAll("button.scan")];
  if (!canScan()) {
    document.getElementById("no-scanner").hidden = false;
    return;
  }
  for (const button of buttons) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const code = await scanInto(document.getElementById("scanner"), t("m.supervisor.common.stop_scan"));
      if (code) {
        const input = document.getElementById(button.dataset.target);
        input.value = button.dataset.target === "vin" ? code.toUpperCase() : code;
        input.focus();
      }
    });
  }
}

async function waiting() {
  const [inTransit, arrived] = await Promise.all([
    all("/floorplan/vehicles", { status: "in_transit" }),
    all("/floorplan/vehicles", { status: "arrived" }),
  ]);
  const cars = [...arrived, ...inTransit];
  fill(
    "#waiting",
    listOf(cars, (v) =>
            el(
              "li",
              { dataset: { vin: v.vin } },
              el("div", el("strong", v.vin), el("div.muted.small", `${v.model} · ${yards.get(v.warehouse_id) || ""} · ${when(v.shipped_at)}`)),
              el("span.row", fpBadge(v.status), el("button.btn.small.secondary", { type: "button", onclick: () => use(v.vin) }, K("use"))),
            ),),
  );
}

function use(vin) {
  document.getElementById("vin").value = vin;
  document.getElementById("certificate").focus();
}

function intake(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const vin = form.vin.value.trim().toUpperCase();
    const certificate = form.certificate_no.value.trim();
    if (!VIN.test(vin)) {
      toast(t("error.invalid_vin"), "error");
      form.vin.focus();
      return;
    }
    if (!certificate) {
      toast(t("error.validation_error"), "error");
      form.certificate_no.focus();
      return;
    }
    const body = { certificate_no: certificate };
    if (form.location.value.trim()) body.location = form.location.value.trim();
    const car = await act(form.querySelector("button[type=submit]"), () =>
      api("POST", `/floorplan/vehicles/${encodeURIComponent(vin)}/intake`, { body }),
    );
    if (!car) return;
    toast(K("done").replace("{vin}", car.vin), "ok");
    fill(
      "#result",
      el(
        "div.notice",
        { id: "intake-result" },
        el("h3", K("last")),
        el(
          "dl.kv",
          el("dt", t("m.supervisor.common.vin")),
          el("dd", car.vin),
          el("dt", t("m.supervisor.common.model")),
          el("dd", `${car.model} · ${money(car.price)}`),
          el("dt", t("common.status")),
          el("dd", fpBadge(car.status)),
          el("dt", K("location")),
          el("dd", car.location || "—"),
        ),
      ),
    );
    form.reset();
    form.vin.focus();
    await waiting();
  });
}

start({ roles: ["supervisor"] }, async () => {
  const form = document.getElementById("intake-form");
  setupScanning(form);
  intake(form);
  yards = new Map((await all("/floorplan/warehouses")).map((w) => [w.id, w.name]));
  await waiting();
});
