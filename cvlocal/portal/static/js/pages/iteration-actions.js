// What can be done with one iteration: publish / unpublish, the Prediction URL dialog, export (every platform
// Azure's portal lists) and download, delete. Refusals are the service's own messages.
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

// The platforms as Azure's portal lists them, each with its flavors (value: the API's flavor, "" for none). A
// platform the iteration cannot export here (`exportableTo`) is shown but cannot be chosen.
export const EXPORT_PLATFORMS = [
  {platform: "CoreML", label: "iOS", hint: "Core ML (model.mlmodel), for apps on iPhone, iPad and Mac.",
   flavors: [["", "Core ML"]]},
  {platform: "TensorFlow", label: "Android", hint: "TensorFlow, for Android, Linux and the browser.",
   flavors: [["TensorFlowLite", "TensorFlow Lite"], ["", "TensorFlow (frozen graph)"],
             ["TensorFlowSavedModel", "SavedModel"], ["TensorFlowJs", "TensorFlow.js"]]},
  {platform: "ONNX", label: "ONNX", hint: "A model.onnx, for Windows ML, ONNX Runtime and .NET.",
   flavors: [["", "ONNX"], ["OnnxFloat16", "ONNX float16"]]},
  {platform: "DockerFile", label: "Dockerfile", hint: "A container answering the prediction API, for IoT Edge " +
   "and any Docker host.", flavors: [["Linux", "Linux"], ["ARM", "ARM (64-bit, e.g. Raspberry Pi)"]]},
  {platform: "OpenVino", label: "OpenVINO", hint: "OpenVINO IR (model.xml, model.bin), for Intel hardware.",
   flavors: [["", "OpenVINO"]]},
  {platform: "VAIDK", label: "Vision AI Dev Kit", hint: "Not exported by this service.", flavors: [["", "VAIDK"]]},
];

function exportDialog(project, iteration) {
  const note = messageArea();
  const status = h("p", {role: "status"});
  const download = h("p", {class: "download"});
  const offered = new Set(iteration.exportableTo || []);
  // ONNX first where it is offered (it needs no converter of the service's optional extra)
  const first = EXPORT_PLATFORMS.find((p) => p.platform === "ONNX" && offered.has("ONNX")) ||
    EXPORT_PLATFORMS.find((p) => offered.has(p.platform));
  const flavor = h("select", {id: uid("flavor")});
  const exportButton = h("button", {type: "button", class: "primary", onclick: () => busy(exportButton, note, run)},
                         "Export");
  const choices = EXPORT_PLATFORMS.map((p) => {
    const id = uid("platform");
    return h("div", {class: "choice"},
      h("input", {type: "radio", id, name: "platform", value: p.platform, checked: p === first,
                  disabled: !offered.has(p.platform), onchange: () => chosen()}),
      h("label", {for: id}, p.label),
      h("p", {class: "hint"}, p.hint));
  });
  openDialog("Choose your platform", [
    h("fieldset", {}, h("legend", {}, "Platform"), ...choices),
    h("div", {class: "field"}, h("label", {for: flavor.id}, "Flavor"), flavor),
    note.el, status, download, h("div", {class: "actions"}, exportButton),
  ]);
  chosen();

  function platform() {
    return EXPORT_PLATFORMS.find((p) => p.platform === (choices.map((c) => c.querySelector("input"))
      .find((input) => input.checked) || {}).value);
  }

  function chosen() {
    const p = platform();
    fill(flavor, ...(p ? p.flavors : []).map(([value, label]) => h("option", {value}, label)));
    fill(download);
    status.textContent = "";
    exportButton.disabled = !p;
    if (p) showDone(p.platform, flavor.value);
  }
  flavor.addEventListener("change", () => { fill(download); showDone(platform().platform, flavor.value); });

  function same(e, name, value) {
    return e.platform === name && (e.flavor || "") === value;
  }

  function showLink(uri, name, value) {
    const label = platform().flavors.find(([v]) => v === value)[1];
    fill(download, h("a", {href: uri, download: `${name}${value ? "-" + value : ""}.zip`, class: "button"},
                     `Download ${label} model`));
  }

  async function showDone(name, value) {
    const done = (await api.getExports(project.id, iteration.id).catch(() => []))
      .find((e) => same(e, name, value) && e.status === "Done" && e.downloadUri);
    if (done && platform().platform === name && flavor.value === value) showLink(done.downloadUri, name, value);
  }

  async function run() {
    const name = platform().platform;
    const value = flavor.value;
    fill(download);
    let exported = await api.exportIteration(project.id, iteration.id, name, value);
    while (exported.status === "Exporting") {
      status.textContent = "Exporting…";
      await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_MS));
      exported = (await api.getExports(project.id, iteration.id)).find((e) => same(e, name, value)) || exported;
    }
    if (exported.status !== "Done") throw new Error(`The export ${exported.status}.`);
    status.textContent = "Export done.";
    showLink(exported.downloadUri, name, value);
  }
}
