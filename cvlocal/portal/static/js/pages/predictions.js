// Predictions: the images a project has predicted and kept (query_predictions), filtered by iteration and by a
// tag's probability, newest, oldest or least certain first ("Suggested"), with the option to tag one and add it to
// the training images (create_images_from_predictions), or delete it (delete_prediction): the active-learning loop.
// An object detection project's stored detections are drawn over their images (those at or over "At least"), and
// adding one to the training images takes those boxes as its regions.
import * as api from "../api.js";
import {fill, formatDate, h, percent, uid} from "../dom.js";
import {busy, describe, messageArea} from "../ui.js";
import {boxedImage, predictedBox} from "../regions/overlay.js";

const PAGE_SIZE = 60;
const ORDERS = [["Newest", "Newest first"], ["Oldest", "Oldest first"], ["Suggested", "Least certain first"]];
const ADDED = new Set(["OK", "OKDuplicate"]);

function labelled(text, control) {
  control.id = uid("pred-filter");
  return h("span", {class: "field-inline"}, h("label", {for: control.id}, text), control);
}

export async function renderPredictions(content, {project, detection = false}) {
  const pid = project.id;
  const note = messageArea();
  const iterationSelect = h("select", {}, h("option", {value: ""}, "All iterations"));
  const orderSelect = h("select", {}, ORDERS.map(([value, text]) => h("option", {value}, text)));
  const tagSelect = h("select", {}, h("option", {value: ""}, "Any tag"));
  const minimum = h("input", {type: "number", min: 0, max: 100, step: 1, value: 50, inputMode: "numeric"});
  const filters = h("form", {class: "toolbar", role: "search", "aria-label": "Filter predictions"},
    labelled("Iteration", iterationSelect), labelled("Sort", orderSelect), labelled("Filter by tag", tagSelect),
    labelled("At least (%)", minimum));
  const grid = h("ul", {class: "grid predictions-grid", "aria-label": "Stored predictions"});
  const summary = h("p", {class: "summary", role: "status"});
  const more = h("button", {type: "button", hidden: true}, "Load more");
  fill(content, h("div", {class: "page-head"}, h("h2", {}, "Predictions")), filters, note.el, summary, grid, more);
  let tags = [];
  let token = null;
  let loading = 0;  // only the latest query may draw (filters change faster than answers come)

  function firstToken() {
    const wanted = {maxCount: PAGE_SIZE, orderBy: orderSelect.value, iterationId: iterationSelect.value || undefined};
    if (tagSelect.value) {
      const lowest = Math.min(100, Math.max(0, Number(minimum.value) || 0)) / 100;
      wanted.tags = [{id: tagSelect.value, minThreshold: lowest, maxThreshold: 1}];
    }
    return wanted;
  }

  async function load(replace) {
    const mine = replace ? ++loading : loading;
    if (replace) token = firstToken();
    grid.setAttribute("aria-busy", "true");
    try {
      const answer = await api.queryPredictions(pid, token);
      if (mine !== loading) return;
      if (replace) fill(grid);
      (answer.results || []).forEach((p) => grid.append(card(p)));
      token = {...token, ...(answer.token || {})};
      more.hidden = !(answer.token && answer.token.continuation);
      drawSummary();
    } catch (error) {
      if (mine !== loading) return;
      if (error.routeMissing) {
        fill(grid);
        note.info("This service does not keep a browsable list of predictions yet (query_predictions): " +
                  describe(error));
      } else {
        note.error(error);
      }
    } finally {
      if (mine === loading) grid.removeAttribute("aria-busy");
    }
  }

  function drawSummary() {
    const shown = grid.querySelectorAll("li.prediction").length;
    summary.textContent = shown ? `${shown} stored prediction${shown === 1 ? "" : "s"} shown` +
                                  (more.hidden ? "." : "; more below.")
                                : "No stored predictions in this view. Quick Test, or the prediction API with " +
                                  "storing, keeps them here.";
  }

  function removed(item) {
    item.remove();
    drawSummary();
  }

  const lowest = () => Math.min(100, Math.max(0, Number(minimum.value) || 0)) / 100;

  function card(prediction) {
    if (detection) return detectionCard(prediction);
    const top = [...(prediction.predictions || [])].sort((a, b) => b.probability - a.probability).slice(0, 3);
    const selectId = uid("pred-tag");
    const cardTag = h("select", {id: selectId}, tags.map((t) => h("option", {value: t.id}, t.name)));
    if (top.length && tags.some((t) => t.id === top[0].tagId)) cardTag.value = top[0].tagId;
    const item = h("li", {class: "tile prediction"});
    const add = h("button", {type: "button", class: "primary", disabled: !tags.length,
                             onclick: () => busy(add, note, async () => {
      const summary = await api.createImagesFromPredictions(pid, {images: [{id: prediction.id, tagIds: [cardTag.value]}]});
      const result = (summary && summary.images && summary.images[0]) || {};
      if (!ADDED.has(result.status)) {
        note.error(`Not added (${result.status || "no result"}): ${result.message || "the service kept nothing."}`);
        return;
      }
      await api.deletePrediction(pid, [prediction.id]);  // it is a training image now, as on Azure's portal
      removed(item);
      note.info(result.status === "OKDuplicate" ? "Already a training image: the tag was added to it."
                                                : "Added to the training images.");
    })}, "Add to training images");
    const remove = h("button", {type: "button", class: "danger", "aria-label": "Delete prediction",
                                onclick: () => busy(remove, note, async () => {
      await api.deletePrediction(pid, [prediction.id]);
      removed(item);
    })}, "Delete");
    fill(item,
      h("img", {src: prediction.thumbnailUri, alt: "", loading: "lazy", decoding: "async", width: 160, height: 120}),
      h("ul", {class: "top-predictions", "aria-label": "Top predictions"},
        top.map((p) => h("li", {}, h("span", {class: "tag-name"}, p.tagName), ` ${percent(p.probability)}`))),
      h("p", {class: "hint"}, formatDate(prediction.created)),
      h("div", {class: "field-inline"}, h("label", {for: selectId}, "Tag"), cardTag),
      h("div", {class: "actions"}, add, remove));
    return item;
  }

  /** A stored detection: its objects at or over "At least" drawn and listed; added with them as its regions. */
  function detectionCard(prediction) {
    const objects = [...(prediction.predictions || [])].sort((a, b) => b.probability - a.probability)
      .filter((p) => p.probability >= lowest());
    const item = h("li", {class: "tile prediction"});
    const add = h("button", {type: "button", class: "primary", disabled: !objects.length,
                             onclick: () => busy(add, note, async () => {
      const regions = objects.map((p) => ({tagId: p.tagId, ...p.boundingBox}));
      const summary = await api.createImagesFromPredictions(pid, {images: [{id: prediction.id, regions}]});
      const result = (summary && summary.images && summary.images[0]) || {};
      if (!ADDED.has(result.status)) {
        note.error(`Not added (${result.status || "no result"}): ${result.message || "the service kept nothing."}`);
        return;
      }
      await api.deletePrediction(pid, [prediction.id]);
      removed(item);
      note.info(`Added to the training images with ${regions.length} region${regions.length === 1 ? "" : "s"}.`);
    })}, objects.length ? `Add with ${objects.length} box${objects.length === 1 ? "" : "es"}` : "No boxes to add");
    const remove = h("button", {type: "button", class: "danger", "aria-label": "Delete prediction",
                                onclick: () => busy(remove, note, async () => {
      await api.deletePrediction(pid, [prediction.id]);
      removed(item);
    })}, "Delete");
    const thumb = h("img", {src: prediction.thumbnailUri, alt: "", loading: "lazy", decoding: "async", width: 160,
                            height: 120});
    fill(item, boxedImage(thumb, objects.map(predictedBox), {labels: false}),
      h("ul", {class: "top-predictions", "aria-label": "Detected objects"},
        objects.slice(0, 5).map((p) => h("li", {}, h("span", {class: "tag-name"}, p.tagName),
                                         ` ${percent(p.probability)}`)),
        objects.length > 5 ? h("li", {}, `and ${objects.length - 5} more`) : null),
      h("p", {class: "hint"}, formatDate(prediction.created)),
      h("div", {class: "actions"}, add, remove));
    return item;
  }

  more.addEventListener("click", () => busy(more, note, () => load(false)));
  filters.addEventListener("submit", (event) => event.preventDefault());
  for (const control of [iterationSelect, orderSelect, tagSelect]) {
    control.addEventListener("change", () => { note.clear(); load(true); });
  }
  minimum.addEventListener("change", () => { if (tagSelect.value || detection) load(true); });

  try {
    const [projectTags, iterations] = await Promise.all([api.getTags(pid), api.getIterations(pid)]);
    tags = projectTags;
    tagSelect.append(...tags.map((t) => h("option", {value: t.id}, t.name)));
    iterationSelect.append(...iterations.filter((i) => i.status === "Completed")
      .map((i) => h("option", {value: i.id}, i.publishName ? `${i.name} (${i.publishName})` : i.name)));
  } catch (error) {
    note.error(error);
  }
  await load(true);
}
