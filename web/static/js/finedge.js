// FinEdge screens: what every page script shares (an ES module, no build step).
//
//   import { start, api, el, t, money, when, live, toast, confirm } from "/web/static/js/finedge.js";
//   start({ roles: ["dealer"] }, async (user) => { ... });
//
// The session (the API's token and the user) lives in this tab's sessionStorage: never in a URL,
// a cookie or a log. It is refreshed before it expires (POST /api/v1/auth/refresh); a 401 from
// the API ends it and shows the login page. Every read and action goes through the API, whose
// checks are the only ones that count. Text is put into the page as text (el()), never as HTML.

const API = "/api/v1";
const KEY = "finedge.session";
const RETURN = "finedge.return";

// ---------- words ----------
const STRINGS = JSON.parse(document.getElementById("fe-strings")?.textContent || "{}");
export const PAGE = JSON.parse(document.getElementById("fe-page")?.textContent || "{}");

/** The string of `key` in the page's language, `{name}` replaced from `params`. */
export function t(key, params = {}) {
  let text = STRINGS[key] ?? key;
  for (const [name, value] of Object.entries(params)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export const language = () => PAGE.language || "zh";

// ---------- formatting ----------
/** Money as the API sends it (a decimal string): grouped by thousands, never through a float. */
export function money(value, { currency = true } = {}) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  const negative = text.startsWith("-");
  const [whole, frac = ""] = text.replace(/^-/, "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const out = `${grouped}.${(frac + "00").slice(0, 2)}`;
  return `${negative ? "-" : ""}${currency ? "¥" : ""}${out}`; // -¥288.00, not ¥-288.00
}

/** A time the API sends (RFC 3339, UTC) in the reader's local time. */
export function when(iso, { date = true, time = true } = {}) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const opts = {};
  if (date) Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
  if (time) Object.assign(opts, { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleString(language() === "zh" ? "zh-CN" : "en-GB", opts);
}

/**
 * A label for an enumerated value from the API: the catalogue's `enum.<area>.<value>` (with an
 * area) or `enum.<value>`, else the value itself.
 */
export function label(value, area) {
  if (area && STRINGS[`enum.${area}.${value}`]) return STRINGS[`enum.${area}.${value}`];
  return STRINGS[`enum.${value}`] ?? String(value ?? "—");
}

// ---------- DOM ----------
/** Build an element: el("a.btn.primary", {href, onclick}, "text", child, ...). Strings are text. */
export function el(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "class") node.className += (node.className ? " " : "") + value;
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `target` (an element or a selector). */
export function fill(target, ...children) {
  const node = typeof target === "string" ? document.querySelector(target) : target;
  node.replaceChildren();
  append(node, children);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A small table: columns [{label, value: row => text|Node, class}], rows. */
export function table(columns, rows, { empty = t("common.empty"), caption } = {}) {
  if (!rows.length) return el("p.muted.empty", empty);
  return el(
    "table.table",
    caption ? el("caption", caption) : null,
    el("thead", el("tr", columns.map((c) => el("th", { scope: "col", class: c.class }, c.label)))),
    el("tbody", rows.map((row) => el("tr", columns.map((c) => el("td", { class: c.class }, c.value(row)))))),
  );
}

export function badge(text, kind = "") {
  return el(`span.badge${kind ? "." + kind : ""}`, text);
}

// ---------- messages ----------
export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("fe-toasts");
  const item = el(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

export function status(message) {
  const box = document.getElementById("fe-status");
  if (box) box.textContent = message || "";
}

/** Ask before an action: resolves true when the user confirms. */
export function confirm(message) {
  const dialog = document.getElementById("fe-confirm");
  document.getElementById("fe-confirm-text").textContent = message;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("fe-confirm-ok").focus();
  });
}

/** The text to show for an API error: the catalogue's `error.<code>` if present. */
export function errorText(error) {
  if (!(error instanceof ApiError)) return t("common.error.network");
  return STRINGS[`error.${error.code}`] ?? error.message ?? error.code;
}

// ---------- session ----------
export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
      if (!s || !s.token || Date.now() >= s.expires_at) return null;
      return s;
    } catch {
      return null;
    }
  },
  set(tokenResponse) {
    const s = {
      token: tokenResponse.access_token,
      expires_at: Date.now() + tokenResponse.expires_in * 1000,
      ttl_ms: tokenResponse.expires_in * 1000,
      user: tokenResponse.user,
    };
    sessionStorage.setItem(KEY, JSON.stringify(s));
    return s;
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

let refreshTimer = null;

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const s = session.get();
  if (!s) return;
  // at four fifths of the token's life (at least 5 s from now)
  const due = Math.max(5000, s.expires_at - Date.now() - s.ttl_ms / 5);
  refreshTimer = setTimeout(refresh, due);
}

async function refresh() {
  try {
    const data = await api("POST", "/auth/refresh");
    session.set(data);
    scheduleRefresh();
  } catch (error) {
    if (!(error instanceof ApiError)) refreshTimer = setTimeout(refresh, 10000); // offline: retry
  }
}

export function loginUrl() {
  return `/${PAGE.surface || "m"}/login`;
}

export function logout() {
  session.clear();
  liveSocket?.disconnect();
  location.assign(loginUrl());
}

function toLogin() {
  session.clear();
  if (PAGE.path !== "login") {
    sessionStorage.setItem(RETURN, location.pathname + location.search);
    location.assign(loginUrl());
  }
}

/** Where the user goes after login: the page they were sent away from, else their home. */
export function afterLogin(user) {
  const back = sessionStorage.getItem(RETURN);
  sessionStorage.removeItem(RETURN);
  if (back && back.startsWith(`/${PAGE.surface}/`) && !back.startsWith("//")) return back;
  return homeOf(user);
}

export function homeOf(user) {
  const mine = PAGE.homes?.[user.role];
  if (mine) return `/${PAGE.surface}/${mine}`;
  const other = PAGE.other_homes?.[user.role];
  const otherSurface = PAGE.surface === "m" ? "console" : "m";
  if (other) return `/${otherSurface}/${other}`;
  return `/${PAGE.surface}/`;
}

// ---------- the API ----------
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || `http_${status}`;
    this.details = err.details || {};
  }
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Call the API: api("GET", "/floorplan/vehicles", { query: {status: "pledged"} }).
 * A state-changing call carries a fresh Idempotency-Key (or `key`, to retry the same request).
 * Resolves with the JSON body; rejects with an ApiError (a 401 also ends the session).
 */
export async function api(method, path, { query, body, key } = {}) {
  const url = new URL(API + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const s = session.get();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (STATE_CHANGING.has(method)) headers["Idempotency-Key"] = key || crypto.randomUUID();
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && path !== "/auth/token" && path !== "/auth/wx-login") toLogin();
    throw error;
  }
  return data;
}

/** Every item of a cursor-paged list (`{items, next_cursor}`), up to `max` items. */
export async function all(path, query = {}, max = 2000) {
  const items = [];
  let cursor;
  do {
    const page = await api("GET", path, { query: { ...query, cursor, limit: query.limit || 200 } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// ---------- live ----------
let liveSocket = null;
let liveReady = null;

/** The Socket.IO connection to /live (the token in its auth payload), made once, on first use. */
export function live() {
  liveReady ??= import("/web/static/vendor/socket.io.esm.min.js").then(({ io }) => {
    liveSocket = io("/live", {
      auth: (cb) => cb({ token: session.get()?.token }),
      transports: ["websocket", "polling"],
    });
    liveSocket.on("connect", () => document.body.classList.add("live-on"));
    liveSocket.on("disconnect", () => document.body.classList.remove("live-on"));
    liveSocket.on("session.revoked", () => toLogin());
    return liveSocket;
  });
  return liveReady;
}

/**
 * Run `handler(payload)` on each live event `name`. It returns at once (the socket connects in
 * the background, so a page is usable before its live link is up; the body gets the class
 * `live-on` once connected); the returned function unsubscribes.
 */
export function onLive(name, handler) {
  const subscribed = live().then((socket) => {
    socket.on(name, handler);
    return socket;
  });
  return () => subscribed.then((socket) => socket.off(name, handler));
}

// ---------- page start ----------
function chrome(user) {
  const langButton = document.getElementById("fe-lang");
  langButton?.addEventListener("click", () => {
    document.cookie = `finedge_lang=${langButton.dataset.lang}; path=/; max-age=31536000; SameSite=Lax`;
    location.reload();
  });
  if (!user) return;
  const name = document.getElementById("fe-user");
  if (name) {
    name.textContent = `${user.username} · ${label(user.role, "role")}`;
    name.hidden = false;
  }
  const out = document.getElementById("fe-logout");
  if (out) {
    out.hidden = false;
    out.addEventListener("click", logout);
  }
  for (const link of document.querySelectorAll("#fe-nav a")) {
    link.hidden = !link.dataset.roles.split(" ").includes(user.role);
    if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
  }
}

/**
 * Start a page: with a session in force, `render(user)` runs (errors shown, not swallowed);
 * without one, the login page. `roles` only decides whether to say the page is not for this user.
 */
export async function start({ roles, public: isPublic = false } = {}, render) {
  performance.mark("fe-start"); // with "fe-ready" below: the page's own time, in DevTools
  const s = session.get();
  chrome(s?.user);
  if (!s && !isPublic) return toLogin();
  if (s) scheduleRefresh();
  if (s && roles && !roles.includes(s.user.role)) {
    fill("#main", el("p.notice", t("common.not_for_role")), el("a.btn.primary", { href: homeOf(s.user) }, t("common.home")));
    return;
  }
  try {
    await render(s?.user);
  } catch (error) {
    console.error(error);
    toast(errorText(error), "error", 8000);
  } finally {
    // the page has drawn its first data (or said why not): tests and `finedge bench pages`
    // wait for this mark, never for a time
    document.getElementById("main").dataset.ready = "1";
    performance.mark("fe-ready");
  }
}

/** Run an action from a button: disabled while it runs, its error shown as a toast. */
export async function act(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    toast(errorText(error), "error", 8000);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Read a query-string parameter of the page's own URL (object ids, never secrets). */
export function param(name) {
  return new URLSearchParams(location.search).get(name);
}
