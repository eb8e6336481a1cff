// One biometric consent page for the mini-program, used by the client's face consent
// (/m/client/consent: /face/consent) and the loader's vein consent (/m/loader/consent:
// /vein/consent). The status comes from GET; giving and withdrawing go through the API.
import { $, act, api, badge, confirm, el, fill, label, t, toast, when } from "/web/static/js/finedge.js";

const KINDS = { none: "", granted: "ok", withdrawn: "warn" };

/**
 * `area`: the page's catalogue area ("client" or "loader"); `endpoint`: "/face/consent" or
 * "/vein/consent"; `extra(consent)`: more lines about what is held (templates, enrolments).
 */
export async function consentPage({ area, endpoint, extra }) {
  const words = (key, params) => t(`m.${area}.consent.${key}`, params);

  function render(consent) {
    const lines = [el("p", badge(label(consent.status, area), KINDS[consent.status] || ""))];
    if (consent.status === "granted" && consent.granted_at) {
      lines.push(el("p.small", words("since", { time: when(consent.granted_at) })));
    }
    if (consent.status === "withdrawn" && consent.withdrawn_at) {
      lines.push(el("p.small", words("withdrawn_on", { time: when(consent.withdrawn_at) })));
    }
    if (consent.text_version) lines.push(el("p.small.muted", words("version", { version: consent.text_version })));
    lines.push(...extra(consent, words));
    fill("#consent-status", lines);
    $("#give").hidden = consent.status === "granted";
    $("#withdraw").hidden = consent.status !== "granted";
    document.getElementById("main").dataset.consent = consent.status;
  }

  $("#give").addEventListener("click", (event) =>
    act(event.currentTarget, async () => {
      render(await api("POST", endpoint, { body: {} }));
      toast(words("given"), "ok");
      $("#withdraw").focus();
    }),
  );
  $("#withdraw").addEventListener("click", async (event) => {
    if (!(await confirm(words("withdraw_confirm")))) return;
    await act(event.currentTarget, async () => {
      render(await api("POST", `${endpoint}/withdraw`));
      toast(words("withdrawn"), "ok");
      $("#give").focus();
    });
  });
  render(await api("GET", endpoint));
}
