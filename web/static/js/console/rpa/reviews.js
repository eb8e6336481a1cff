// The review queue (GET /rpa/reviews): BUSINESS-failed items waiting for people. Maker-checker:
// a maker proposes a retry with a corrected payload (JSON) or a close
// (POST /rpa/reviews/{id}/propose); another person of the department approves or rejects
// (POST /rpa/reviews/{id}/check). The API refuses the maker as checker.
import { act, all, el, fill, label, start, t, toast, when, api } from "/web/static/js/finedge.js";

const K = (name, params) => t(`console.rpa.reviews.${name}`, params);

function proposeForm(r, reload) {
  const payload = el("textarea", { rows: 6, "aria-label": K("corrected_payload"), dataset: { field: "payload" } });
  payload.value = JSON.stringify(r.payload, null, 2);
  const note = el("input", { type: "text", maxlength: 2000, "aria-label": K("note"), placeholder: K("note") });
  const send = async (action) => {
    let corrected;
    if (action === "retry") {
      try {
        corrected = JSON.parse(payload.value);
      } catch {
        toast(K("bad_json"), "error");
        return;
      }
    }
    await api("POST", `/rpa/reviews/${r.id}/propose`, { body: { action, corrected_payload: corrected, note: note.value } });
    toast(K("proposed_ok"), "ok");
    await reload();
  };
  const retry = el("button.btn.primary", { type: "button", dataset: { action: "retry" } }, K("propose_retry"));
  const close = el("button.btn", { type: "button", dataset: { action: "close" } }, K("propose_close"));
  retry.addEventListener("click", () => act(retry, () => send("retry")));
  close.addEventListener("click", () => act(close, () => send("close")));
  return el("div", el("label", K("corrected_payload"), payload), note, el("div.row", retry, close));
}

function checkForm(r, reload) {
  const decide = async (approve) => {
    await api("POST", `/rpa/reviews/${r.id}/check`, { body: { approve } });
    toast(approve ? K("approved_ok") : K("rejected_ok"), "ok");
    await reload();
  };
  const yes = el("button.btn.primary", { type: "button", dataset: { action: "approve" } }, K("approve"));
  const no = el("button.btn", { type: "button", dataset: { action: "reject" } }, K("reject"));
  yes.addEventListener("click", () => act(yes, () => decide(true)));
  no.addEventListener("click", () => act(no, () => decide(false)));
  return el(
    "div",
    el("p", K("proposal", { action: label(r.action, "rpa"), when: when(r.proposed_at) })),
    r.note ? el("p.muted", r.note) : null,
    r.action === "retry" ? el("pre.small", JSON.stringify(r.corrected_payload, null, 2)) : null,
    el("div.row", yes, no),
  );
}

async function load() {
  const reviews = await all("/rpa/reviews", {}, 500);
  fill(
    "#reviews",
    reviews.length
      ? reviews.map((r) =>
          el(
            "article.card",
            { dataset: { review: r.id, status: r.status } },
            el("h3", `${r.robot} · ${K("item")} #${r.item_id} · ${label(r.status, "rpa")}`),
            el("p.notice", `${r.failure_code || ""}: ${r.failure_message || ""}`),
            el("p.muted.small", when(r.created_at)),
            r.status === "open" ? proposeForm(r, load) : checkForm(r, load),
          ),
        )
      : el("p.muted", K("none")),
  );
}

start({ roles: ["operator", "admin"] }, load);
