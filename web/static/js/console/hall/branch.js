// What the hall pages share: which branch they show, and the live-or-poll refresh.
//
// Staff who work at a branch (user.branch_id, from the login's user) see their own. Admins and
// head-office staff choose one among GET /branches; the choice is remembered in this browser.
import { all, el, fill, label, live, t } from "/web/static/js/finedge.js";

const KEY = "finedge.hall.branch";

/** The branch to show (its code), or null when the user may see none. */
export async function pickBranch(user) {
  if (user.branch_id) return user.branch_id;
  const box = document.getElementById("branch-pick");
  const select = document.getElementById("branch");
  const branches = await all("/branches", {}, 1000);
  if (!branches.length) {
    fill("#main", el("p.notice", t("console.hall.no_branch")));
    return null;
  }
  fill(select, branches.map((b) => el("option", { value: b.code }, `${b.code} · ${b.name}`)));
  const saved = localStorage.getItem(KEY);
  select.value = branches.some((b) => b.code === saved) ? saved : branches[0].code;
  box.hidden = false;
  select.addEventListener("change", () => {
    localStorage.setItem(KEY, select.value);
    location.reload();
  });
  return select.value;
}

/**
 * Keep a page current: `reload()` again whenever the live socket reconnects (pushes may have
 * been missed meanwhile), and on its first connection too unless `versioned` (a page whose
 * pushes carry versions finds a missed one by itself). Head-office staff join no branch room
 * (docs/web.md): their page polls every 15 s instead, and says so.
 */
export async function keepCurrent(user, reload, { versioned = false } = {}) {
  const socket = await live();
  let first = !socket.connected;
  socket.on("connect", () => {
    if (!first || !versioned) reload();
    first = false;
  });
  if (!user.branch_id && user.role !== "admin") {
    const note = document.getElementById("poll-note");
    if (note) {
      note.textContent = t("console.hall.polling");
      note.hidden = false;
    }
    setInterval(reload, 15000);
  }
}

/** A service's name. */
export const serviceName = (code) => label(code, "hall");

/** Seconds as whole minutes ("3 min"); "—" for nothing. */
export function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return t("console.hall.minutes", { n: Math.round(seconds / 60) });
}

/** The branch picker's markup is in each hall template: #branch-pick > label + select#branch. */
