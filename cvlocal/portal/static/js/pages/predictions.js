// Predictions: the images a project has predicted and kept (query_predictions), with the option to tag one and
// add it to the training images (create_images_from_predictions), or delete it (delete_prediction).
import * as api from "../api.js";
import {fill, formatDate, h, percent, uid} from "../dom.js";
import {busy, describe, messageArea} from "../ui.js";

const PAGE_SIZE = 60;

export async function renderPredictions(content, {project}) {
  const pid = project.id;
  const note = messageArea();
  const grid = h("ul", {class: "grid predictions-grid", "aria-label": "Stored predictions"});
  const more = h("button", {type: "button", hidden: true}, "Load more");
  fill(content, h("h2", {}, "Predictions"), note.el, grid, more);
  let tags = [];
  let token = {orderBy: "Newest", maxCount: PAGE_SIZE};

  async function loadMore(replace) {
    try {
      const answer = await api.queryPredictions(pid, token);
      if (replace) fill(grid);
      (answer.results || []).forEach((p) => grid.append(card(p)));
      if (!grid.children.length) {
        grid.append(h("li", {class: "empty"},
                      "No stored predictions. Quick Test, or the prediction API with storing, keeps them here."));
      }
      token = {...token, ...(answer.token || {})};
      more.hidden = !(answer.token && answer.token.continuation);
    } catch (error) {
      if (error.routeMissing) {
        fill(grid);
        note.info("This service does not keep a browsable list of predictions yet (query_predictions): " +
                  describe(error));
      } else {
        note.error(error);
      }
    }
  }
  more.addEventListener("click", () => busy(more, note, () => loadMore(false)));

  function card(prediction) {
    const top = [...(prediction.predictions || [])].sort((a, b) => b.probability - a.probability).slice(0, 3);
    const selectId = uid("pred-tag");
    const tagSelect = h("select", {id: selectId}, tags.map((t) => h("option", {value: t.id}, t.name)));
    const item = h("li", {class: "tile prediction"});
    const add = h("button", {type: "button", disabled: !tags.length, onclick: () => busy(add, note, async () => {
      await api.createImagesFromPredictions(pid, {images: [{id: prediction.id, tagIds: [tagSelect.value]}]});
      await api.deletePrediction(pid, [prediction.id]);
      item.remove();
      note.info("Added to the training images.");
    })}, "Add to training images");
    const remove = h("button", {type: "button", class: "danger", "aria-label": "Delete prediction",
                                onclick: () => busy(remove, note, async () => {
      await api.deletePrediction(pid, [prediction.id]);
      item.remove();
    })}, "Delete");
    fill(item,
      h("img", {src: prediction.thumbnailUri, alt: "", loading: "lazy", decoding: "async", width: 160, height: 120}),
      h("ul", {class: "top-predictions"}, top.map((p) => h("li", {}, `${p.tagName} ${percent(p.probability)}`))),
      h("p", {class: "hint"}, formatDate(prediction.created)),
      h("label", {for: selectId}, "Tag"), tagSelect, add, remove);
    return item;
  }

  try {
    tags = await api.getTags(pid);
  } catch (error) {
    note.error(error);
  }
  await loadMore(true);
}
