// The client's consent to face recognition at the branch door, in plain words: GET
// /face/consent, give it (POST /face/consent) or withdraw it (POST /face/consent/withdraw,
// which deletes every encoding and sighting at once).
import { el, start } from "/web/static/js/finedge.js";
import { consentPage } from "/web/static/js/m/consent.js";

start({ roles: ["client"] }, () =>
  consentPage({
    area: "client",
    endpoint: "/face/consent",
    extra: (consent, words) => [el("p.small.muted", words("encodings", { n: consent.encodings ?? 0 }))],
  }),
);
