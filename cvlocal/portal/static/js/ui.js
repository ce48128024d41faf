// Shared pieces of the page: modal dialogs (native <dialog>: focus stays inside, Escape closes), confirmations,
// messages, and the one way errors from the service are shown (its own message, as text).
import {h, uid} from "./dom.js";

/** A modal dialog named by its heading; removed from the page when closed. `mayClose()` returning false keeps it
 * open (the close button and Escape both ask it): a page with unsaved work says so instead of losing it. */
export function openDialog(title, body, {wide = false, onClose, mayClose} = {}) {
  const headingId = uid("dialog-title");
  const close = h("button", {type: "button", class: "icon close", "aria-label": "Close this dialog",
                             onclick: () => { if (!mayClose || mayClose()) dialog.close(); }}, "×");
  const dialog = h("dialog", {class: wide ? "wide" : "", "aria-labelledby": headingId},
                   h("header", {}, h("h2", {id: headingId}, title), close), body);
  dialog.addEventListener("cancel", (event) => {
    if (mayClose && !mayClose()) event.preventDefault();
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (onClose) onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmAction(title, message, confirmLabel) {
  return new Promise((resolve) => {
    let confirmed = false;
    const cancel = h("button", {type: "button", onclick: () => dialog.close()}, "Cancel");
    const ok = h("button", {type: "button", class: "danger", onclick: () => { confirmed = true; dialog.close(); }},
                 confirmLabel);
    const dialog = openDialog(title, [h("p", {}, message), h("div", {class: "actions"}, cancel, ok)],
                              {onClose: () => resolve(confirmed)});
    cancel.focus();
  });
}

/** A message area: role=alert for errors (read out at once), role=status for progress and results. */
export function messageArea() {
  const el = h("div", {class: "message", hidden: true});
  return {
    el,
    error(textOrError) {
      el.setAttribute("role", "alert");
      el.className = "message error";
      el.textContent = describe(textOrError);
      el.hidden = false;
    },
    info(text) {
      el.setAttribute("role", "status");
      el.className = "message info";
      el.textContent = text;
      el.hidden = false;
    },
    clear() {
      el.hidden = true;
      el.textContent = "";
    },
  };
}

/** The service's own words for an ApiError (its message, and the Custom Vision error code after it). */
export function describe(error) {
  if (typeof error === "string") return error;
  if (error && error.code && error.code !== "NetworkError") return `${error.message} (${error.code})`;
  return (error && error.message) || String(error);
}

/** Run `work` with `button` disabled, showing errors in `message`. */
export async function busy(button, message, work) {
  if (button) button.disabled = true;
  if (message) message.clear();
  try {
    return await work();
  } catch (error) {
    if (message) message.error(error);
    else throw error;
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A radio group in a fieldset: [{value, label, hint}] -> {el, value()} */
export function radioGroup(legend, name, options, selected) {
  const inputs = [];
  const rows = options.map((option) => {
    const id = uid(name);
    const input = h("input", {type: "radio", name, id, value: option.value, checked: option.value === selected,
                              disabled: option.disabled});
    inputs.push(input);
    return h("div", {class: "choice"}, input, h("label", {for: id}, option.label),
             option.hint ? h("p", {class: "hint"}, option.hint) : null);
  });
  return {
    el: h("fieldset", {}, h("legend", {}, legend), rows),
    inputs,
    value: () => (inputs.find((i) => i.checked) || {}).value,
  };
}
