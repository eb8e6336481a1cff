// What the console's devices and admin pages share: a secret shown once (device credentials, a
// new password), a cursor-paged table with "load more", <select> options, a form's values, and
// a modal form dialog. Everything is built with el(): no HTML from strings.
import { $, act, el, fill, t, table, toast } from "/web/static/js/finedge.js";

/**
 * Show secrets once: a modal dialog with each value, a copy button and a warning. The values
 * live only in this dialog's DOM (never in storage, a URL or a log); closing it removes the
 * dialog from the page, so they are gone. `words`: {title, warning, copy, copied, close}.
 * Resolves when the dialog is closed.
 */
export function showOnce(words, rows) {
  const dialog = el(
    "dialog.dialog.once",
    { "aria-labelledby": "once-title", id: "once-dialog" },
    el("h2", { id: "once-title" }, words.title),
    el("p.notice.warn-notice", { role: "alert" }, words.warning),
    el(
      "dl.kv.once-values",
      rows.map(([name, value, key]) => [
        el("dt", name),
        el(
          "dd",
          el("code.secret", { dataset: { key } }, value),
          " ",
          el(
            "button.btn.small.secondary",
            {
              type: "button",
              "aria-label": `${words.copy}: ${name}`,
              onclick: async () => {
                try {
                  await navigator.clipboard.writeText(value);
                  toast(words.copied, "ok");
                } catch {
                  const range = document.createRange();
                  range.selectNodeContents(dialog.querySelector(`code[data-key="${key}"]`));
                  getSelection().removeAllRanges();
                  getSelection().addRange(range);
                }
              },
            },
            words.copy,
          ),
        ),
      ]),
    ),
    el("div.row.end", el("button.btn.primary", { type: "button", id: "once-close" }, words.close)),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove(); // the secrets leave the page with it
      resolve();
    });
    $("#once-close", dialog).addEventListener("click", () => dialog.close());
    dialog.showModal();
    $("#once-close", dialog).focus();
  });
}

/** Options for a <select>: [[value, text]...], with an "all" (or other) empty choice first. */
export function options(select, pairs, { empty = t("common.all"), selected } = {}) {
  const node = typeof select === "string" ? $(select) : select;
  const current = selected ?? node.value;
  fill(
    node,
    empty === null ? null : el("option", { value: "" }, empty),
    pairs.map(([value, text]) => el("option", { value, selected: String(value) === String(current) }, text)),
  );
  return node;
}

/** A form's named fields as an object of trimmed strings (empty ones left out). */
export function values(form) {
  const out = {};
  for (const [name, value] of new FormData(form).entries()) {
    const text = typeof value === "string" ? value.trim() : value;
    if (text !== "") out[name] = text;
  }
  return out;
}

/**
 * A cursor-paged list drawn into `target` as a table: `load(cursor)` answers {items,
 * next_cursor}; "load more" appends the next page. `reload()` starts again from the first.
 */
export function pager(target, columns, load, { empty } = {}) {
  const node = typeof target === "string" ? $(target) : target;
  let rows = [];
  let cursor = null;
  let generation = 0; // a reload started later wins over an earlier one still loading
  async function next() {
    const mine = generation;
    const page = await load(cursor);
    if (mine !== generation) return;
    rows = rows.concat(page.items);
    cursor = page.next_cursor;
    const more = cursor
      ? el("button.btn.secondary.more", { type: "button", onclick: (e) => act(e.currentTarget, next) }, t("common.more"))
      : null;
    fill(node, el("div.table-wrap", table(columns, rows, empty ? { empty } : {})), more);
  }
  return {
    async reload() {
      generation += 1;
      rows = [];
      cursor = null;
      await next();
    },
  };
}

/**
 * A modal form: `fields` are nodes (labels and inputs) built by the caller; `submit(form)`
 * runs on save (its errors shown, the dialog kept open). Resolves with submit's result, or
 * undefined when cancelled.
 */
export function formDialog(title, fields, submit) {
  const form = el(
    "form.form",
    { method: "dialog" },
    el("h2", title),
    fields,
    el(
      "div.row.end",
      el("button.btn.secondary", { type: "button", value: "cancel", onclick: () => dialog.close() }, t("common.cancel")),
      el("button.btn.primary", { type: "submit" }, t("common.save")),
    ),
  );
  const dialog = el("dialog.dialog", form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let result;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = await act(event.submitter, () => submit(form));
      if (out !== undefined) {
        result = out;
        dialog.close();
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    dialog.showModal();
    form.querySelector("input, select, textarea")?.focus();
  });
}

/** A labelled field for a form dialog: field("name", "Name", el("input", ...)). */
export function field(id, text, input) {
  input.id = id;
  if (!input.name) input.name = id.replace(/^[a-z]+-/, "");
  return [el("label", { for: id }, text), input];
}

/** A random password (16 characters from a 56-letter alphabet, crypto-strong). */
export function randomPassword() {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}
