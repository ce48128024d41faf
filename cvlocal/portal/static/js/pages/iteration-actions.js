// What can be done with one iteration: publish / unpublish, the Prediction URL dialog, export (ONNX) and
// download, delete. Refusals are the service's own messages.
import * as api from "../api.js";
import {field, fill, h, uid} from "../dom.js";
import {session} from "../session.js";
import {busy, confirmAction, messageArea, openDialog} from "../ui.js";

// What `cvlocal serve` prints as VISION_PREDICTION_RESOURCE_ID; any ARM id of a prediction resource will do.
const DEFAULT_PREDICTION_RESOURCE_ID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cvlocal" +
  "/providers/Microsoft.CognitiveServices/accounts/cvlocal-prediction";
const EXPORT_POLL_MS = 1000;

export function iterationActions(project, iteration, note, refresh) {
  const completed = iteration.status === "Completed";
  const buttons = [];
  if (completed && !iteration.publishName) {
    buttons.push(h("button", {type: "button", class: "primary",
                              onclick: () => publishDialog(project, iteration, refresh)}, "Publish"));
  }
  if (iteration.publishName) {
    buttons.push(
      h("button", {type: "button", onclick: () => unpublish(project, iteration, note, refresh)}, "Unpublish"),
      h("button", {type: "button", onclick: () => predictionUrlDialog(project, iteration)}, "Prediction URL"));
  }
  if (completed) {
    buttons.push(h("button", {type: "button", disabled: !iteration.exportable,
                              title: iteration.exportable ? "" : "Export needs a compact domain",
                              onclick: () => exportDialog(project, iteration)}, "Export"));
  }
  buttons.push(h("button", {type: "button", class: "danger", onclick: () => remove(project, iteration, note)},
                 "Delete"));
  return buttons;
}

function publishDialog(project, iteration, refresh) {
  const name = h("input", {type: "text", required: true, value: iteration.name.replace(/\s+/g, ""), maxLength: 100});
  const resource = h("input", {type: "text", required: true,
                               value: session.predictionResourceId() || DEFAULT_PREDICTION_RESOURCE_ID});
  const note = messageArea();
  const submit = h("button", {type: "submit", class: "primary"}, "Publish");
  const cancel = h("button", {type: "button", onclick: () => dialog.close()}, "Cancel");
  const form = h("form", {class: "stack"},
    h("p", {}, `Publish ${iteration.name} so that the prediction API serves it under a name.`),
    field("Model name", name), field("Prediction resource", resource,
      "The ARM resource id of the prediction resource " +
      "(/subscriptions/…/providers/Microsoft.CognitiveServices/accounts/…)."),
    note.el, h("div", {class: "actions"}, cancel, submit));
  const dialog = openDialog("Publish Model", form);
  name.focus();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, note, async () => {
      await api.publishIteration(project.id, iteration.id, name.value.trim(), resource.value.trim());
      session.rememberPredictionResourceId(resource.value.trim());
      dialog.close();
      refresh();
    });
  });
}

async function unpublish(project, iteration, note, refresh) {
  const sure = await confirmAction(`Unpublish ${iteration.name}?`,
    `Clients calling the prediction URL of “${iteration.publishName}” will get 404 until another iteration is ` +
    "published under that name.",
    "Unpublish");
  if (!sure) return;
  await busy(null, note, async () => {
    await api.unpublishIteration(project.id, iteration.id);
    refresh();
  });
}

async function remove(project, iteration, note) {
  const sure = await confirmAction(`Delete ${iteration.name}?`, "Its model and performance are deleted.",
                                   "Delete iteration");
  if (!sure) return;
  await busy(null, note, async () => {
    await api.deleteIteration(project.id, iteration.id);
    location.hash = `#/projects/${encodeURIComponent(project.id)}/performance`;
  });
}

/** The URLs and headers exactly as the Azure portal's "How to use the Prediction API" dialog shows them. */
export function predictionUrls(origin, projectId, publishName) {
  const base = `${origin}/customvision/v3.0/Prediction/${encodeURIComponent(projectId)}/classify/iterations/` +
               encodeURIComponent(publishName);
  return {url: `${base}/url`, image: `${base}/image`};
}

function copyField(label, value) {
  // A read-only textarea: the whole URL stays visible (it wraps) and can be selected and copied.
  const text = h("textarea", {readOnly: true, rows: 2, class: "mono", spellcheck: false, id: uid("copy")}, value);
  const copy = h("button", {type: "button", "aria-label": `Copy the ${label.toLowerCase()}`, onclick: async () => {
    text.select();
    try {
      await navigator.clipboard.writeText(value);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Selected: press Ctrl+C";
    }
  }}, "Copy");
  return h("div", {class: "field copy-field"}, h("label", {for: text.id}, label),
           h("div", {class: "copy-row"}, text, copy));
}

function predictionUrlDialog(project, iteration) {
  const urls = predictionUrls(location.origin, project.id, iteration.publishName);
  const key = session.predictionKey();
  const keyLine = key ? h("code", {}, key)
                      : h("em", {}, "your prediction key (the prediction resource's key, not the training key)");
  openDialog("How to use the Prediction API", [
    h("h3", {}, "If you have an image URL:"),
    copyField("Prediction URL for an image URL", urls.url),
    h("p", {}, "Set Prediction-Key Header to : ", keyLine),
    h("p", {}, "Set Content-Type Header to : ", h("code", {}, "application/json")),
    h("p", {}, "Set Body to : ", h("code", {}, '{"Url": "https://example.com/image.png"}')),
    h("h3", {}, "If you have an image file:"),
    copyField("Prediction URL for an image file", urls.image),
    h("p", {}, "Set Prediction-Key Header to : ", keyLine.cloneNode(true)),
    h("p", {}, "Set Content-Type Header to : ", h("code", {}, "application/octet-stream")),
    h("p", {}, "Set Body to : ", h("code", {}, "<image file>")),
  ], {wide: true});
}

function exportDialog(project, iteration) {
  const note = messageArea();
  const status = h("p", {role: "status"});
  const download = h("p", {class: "download"});
  const exportButton = h("button", {type: "button", class: "primary", onclick: () => busy(exportButton, note, run)},
                         "Export");
  openDialog("Choose your platform", [
    h("fieldset", {}, h("legend", {}, "Platform"),
      h("div", {class: "choice"},
        h("input", {type: "radio", id: "platform-onnx", name: "platform", value: "ONNX", checked: true}),
        h("label", {for: "platform-onnx"}, "ONNX"),
        h("p", {class: "hint"}, "A model.onnx with labels.txt, for ONNX Runtime (Windows ML, Linux, mobile)."))),
    note.el, status, download, h("div", {class: "actions"}, exportButton),
  ]);
  showDone();

  function showLink(uri) {
    fill(download, h("a", {href: uri, download: "model.zip", class: "button"}, "Download ONNX model"));
  }

  async function showDone() {
    const done = (await api.getExports(project.id, iteration.id).catch(() => []))
      .find((e) => e.platform === "ONNX" && e.status === "Done" && e.downloadUri);
    if (done) showLink(done.downloadUri);
    return done;
  }

  async function run() {
    let exported = await api.exportIteration(project.id, iteration.id, "ONNX");
    while (exported.status === "Exporting") {
      status.textContent = "Exporting…";
      await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_MS));
      exported = (await api.getExports(project.id, iteration.id)).find((e) => e.platform === "ONNX") || exported;
    }
    if (exported.status !== "Done") throw new Error(`The export ${exported.status}.`);
    status.textContent = "Export done.";
    showLink(exported.downloadUri);
  }
}
