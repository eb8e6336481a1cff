// The loader's consent to finger-vein enrolment on the branch's locks: GET /vein/consent, give
// it (POST /vein/consent) or withdraw it (POST /vein/consent/withdraw: every lock holding the
// template is told to delete it).
import { el, start } from "/web/static/js/finedge.js";
import { consentPage } from "/web/static/js/m/consent.js";

start({ roles: ["loader"] }, () =>
  consentPage({
    area: "loader",
    endpoint: "/vein/consent",
    extra: (consent, words) => [el("p.small.muted", words("enrolments", { n: consent.enrolments ?? 0 }))],
  }),
);
