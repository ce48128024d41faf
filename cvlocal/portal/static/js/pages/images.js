// Training images: a paged grid of thumbnails (take <= 256, lazy <img>), a tag filter with counts, Untagged,
// tag / untag / delete the selected images, create and delete tags, and the upload dialog. On an object detection
// project each thumbnail shows its boxes and opens the region editor (an image is tagged by its boxes there).
import * as api from "../api.js";
import {fill, h, uid} from "../dom.js";
import {busy, confirmAction, messageArea} from "../ui.js";
import {uploadDialog} from "./upload.js";
import {regionEditor} from "../regions/editor.js";
import {boxedImage} from "../regions/overlay.js";

export const PAGE_SIZE = 60;

export async function renderImages(content, {project, detection = false}) {
  const pid = project.id;
  const state = {show: "all", tagIds: new Set(), page: 0, total: 0, tags: [], images: [], selected: new Set()};
  let loading = 0;  // only the latest load may draw (filters change faster than answers come)

  const note = messageArea();
  const filters = h("div", {class: "filter-body"});
  // On a narrow window the filters fold away under their summary, so the images come first.
  const folding = h("details", {class: "filter-box", open: !matchMedia("(max-width: 760px)").matches},
                    h("summary", {}, "Tags and filters"), filters);
  const aside = h("aside", {class: "filters", "aria-label": "Filter images"}, folding);
  const toolbar = h("div", {class: "toolbar", role: "toolbar", "aria-label": "Selected images"});
  const grid = h("ul", {class: "grid", "aria-label": "Training images"});
  const pager = h("nav", {class: "pager", "aria-label": "Image pages"});
  const summary = h("p", {class: "summary", role: "status"});
  // Enabled once the tags are in: the dialog offers them for the batch (a click before would offer none).
  const addImages = h("button", {type: "button", class: "primary", disabled: true,
                                 onclick: () => uploadDialog(project, state.tags, reloadAll, {detection})},
                    "Add images");
  fill(content, h("div", {class: "with-sidebar"}, aside,
    h("div", {class: "main-column"}, h("div", {class: "page-head"}, h("h2", {}, "Training images"), addImages),
      note.el, toolbar, summary, grid, pager)));

  async function reloadAll() {
    await Promise.all([loadFilters(), loadPage()]);
  }

  async function loadFilters() {
    try {
      const [tags, all, tagged, untagged] = await Promise.all([api.getTags(pid), api.getImageCount(pid),
        api.getTaggedImageCount(pid), api.getUntaggedImageCount(pid)]);
      state.tags = tags;
      for (const id of [...state.tagIds]) if (!tags.some((t) => t.id === id)) state.tagIds.delete(id);
      drawFilters({all, tagged, untagged});
      drawToolbar();
    } catch (error) {
      note.error(error);
    } finally {
      addImages.disabled = false;
    }
  }

  function drawFilters(counts) {
    const show = [["all", "All images", counts.all], ["tagged", "Tagged", counts.tagged],
                  ["untagged", "Untagged", counts.untagged]].map(([value, label, count]) => {
      const id = uid("show");
      const input = h("input", {type: "radio", name: "show", id, value, checked: state.show === value, onchange: () => {
        state.show = value;
        state.tagIds.clear();
        state.page = 0;
        redraw();
      }});
      return h("div", {class: "choice"}, input, h("label", {for: id}, `${label} (${count})`));
    });
    const tagRows = state.tags.map((tag) => {
      const id = uid("tag");
      const box = h("input", {type: "checkbox", id, checked: state.tagIds.has(tag.id), onchange: () => {
        if (box.checked) state.tagIds.add(tag.id); else state.tagIds.delete(tag.id);
        state.show = state.tagIds.size ? "tags" : "all";
        state.page = 0;
        redraw();
      }});
      const remove = h("button", {type: "button", class: "icon danger", "aria-label": `Delete tag ${tag.name}`,
                                  title: "Delete tag", onclick: () => deleteTag(tag)}, "×");
      return h("li", {class: "tag-row"}, box, h("label", {for: id}, h("span", {class: "tag-name"}, tag.name),
        h("span", {class: "count"}, ` (${tag.imageCount})`)), remove);
    });
    const newTag = h("input", {type: "text", maxLength: 100, required: true});
    const newTagId = uid("new-tag");
    newTag.id = newTagId;
    const addTag = h("button", {type: "submit"}, "Add tag");
    const tagForm = h("form", {class: "inline"}, h("label", {for: newTagId}, "New tag"), newTag, addTag);
    tagForm.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(addTag, note, async () => {
        await api.createTag(pid, newTag.value.trim());
        await loadFilters();
      });
    });
    fill(filters,
      h("fieldset", {}, h("legend", {}, "Show"), show),
      h("fieldset", {}, h("legend", {}, "Filter by tag"),
        tagRows.length ? h("ul", {class: "tag-list"}, tagRows) : h("p", {class: "hint"}, "No tags yet.")),
      tagForm);
  }

  async function deleteTag(tag) {
    const sure = await confirmAction(`Delete tag ${tag.name}?`,
      `The tag is removed from its ${tag.imageCount} images; the images stay.`, "Delete tag");
    if (!sure) return;
    await busy(null, note, async () => {
      await api.deleteTag(pid, tag.id);
      state.tagIds.delete(tag.id);
      await reloadAll();
    });
  }

  async function loadPage() {
    const token = ++loading;
    grid.setAttribute("aria-busy", "true");
    const listing = {take: PAGE_SIZE, skip: state.page * PAGE_SIZE};
    const tagIds = [...state.tagIds];
    try {
      let total, images;
      if (state.show === "untagged") {
        [total, images] = await Promise.all([api.getUntaggedImageCount(pid), api.getUntaggedImages(pid, listing)]);
      } else if (state.show === "tagged" || state.show === "tags") {
        [total, images] = await Promise.all([api.getTaggedImageCount(pid, tagIds),
                                             api.getTaggedImages(pid, {...listing, tagIds})]);
      } else {
        [total, images] = await Promise.all([api.getImageCount(pid), api.getImages(pid, listing)]);
      }
      if (token !== loading) return;
      if (!images.length && state.page > 0) {  // the last page emptied (deleted or untagged): show the one before
        state.page = Math.max(0, Math.ceil(total / PAGE_SIZE) - 1);
        return loadPage();
      }
      state.total = total;
      state.images = images;
      state.selected.clear();
      drawGrid();
      drawToolbar();
    } catch (error) {
      if (token === loading) note.error(error);
    } finally {
      if (token === loading) grid.removeAttribute("aria-busy");
    }
  }

  function redraw() {
    note.clear();
    loadFilters();
    loadPage();
  }

  function drawGrid() {
    const first = state.page * PAGE_SIZE;
    fill(grid, state.images.map((image, i) => {
      const names = (image.tags || []).map((t) => t.tagName);
      const described = names.length ? names.join(", ") : "untagged";
      const box = h("input", {type: "checkbox", "aria-label": `Select image ${first + i + 1} (${described})`,
                              checked: state.selected.has(image.id), onchange: () => {
        if (box.checked) state.selected.add(image.id); else state.selected.delete(image.id);
        drawToolbar();
      }});
      const thumbnail = h("img", {src: image.thumbnailUri, alt: "", loading: "lazy", decoding: "async", width: 160,
                                  height: 120});
      const caption = h("span", {class: names.length ? "tags" : "tags none"}, names.length ? names.join(", ")
                                                                                     : "Untagged");
      if (!detection) return h("li", {class: "tile"}, h("label", {}, box, thumbnail, caption));
      const regions = image.regions || [];
      const open = h("button", {type: "button", class: "thumb",
                                "aria-label": `Edit the regions of image ${first + i + 1} (${regions.length} `
                                              + `box${regions.length === 1 ? "" : "es"}: ${described})`,
                                onclick: () => regionEditor(project, {images: state.images, index: i, tags: state.tags,
                                                                      onChanged: reloadAll})},
                     boxedImage(thumbnail, regions, {labels: false}));
      return h("li", {class: "tile detection"}, open, h("label", {}, box, caption,
        h("span", {class: "count"}, ` · ${regions.length} box${regions.length === 1 ? "" : "es"}`)));
    }));
    const pages = Math.max(1, Math.ceil(state.total / PAGE_SIZE));
    const last = Math.min(first + state.images.length, state.total);
    summary.textContent = state.total ? `Images ${first + 1}–${last} of ${state.total}` : "No images in this view.";
    const previous = h("button", {type: "button", disabled: state.page === 0,
                                  onclick: () => { state.page -= 1; loadPage(); }}, "Previous page");
    const next = h("button", {type: "button", disabled: state.page + 1 >= pages,
                              onclick: () => { state.page += 1; loadPage(); }}, "Next page");
    fill(pager, previous, h("span", {}, `Page ${state.page + 1} of ${pages}`), next);
  }

  function drawToolbar() {
    const count = state.selected.size;
    const pageIds = state.images.map((i) => i.id);
    const allId = uid("select-all");
    const all = h("input", {type: "checkbox", id: allId, disabled: !pageIds.length,
                            checked: pageIds.length > 0 && pageIds.every((id) => state.selected.has(id)),
                            onchange: () => {
      for (const id of pageIds) if (all.checked) state.selected.add(id); else state.selected.delete(id);
      drawGrid();
      drawToolbar();
    }});
    const tagSelectId = uid("tag-select");
    const tagSelect = h("select", {id: tagSelectId, disabled: !state.tags.length},
                        state.tags.map((t) => h("option", {value: t.id}, t.name)));
    const none = !count;
    const selected = () => [...state.selected];
    const tagButton = h("button", {type: "button", hidden: detection, disabled: none || !state.tags.length, onclick: () =>
      change(tagButton, () => api.createImageTags(pid, selected(), tagSelect.value))}, "Add tag to selected");
    const untagButton = h("button", {type: "button", hidden: detection, disabled: none || !state.tags.length, onclick: () =>
      change(untagButton, () => api.deleteImageTags(pid, selected(), [tagSelect.value]))}, "Remove tag from selected");
    const deleteButton = h("button", {type: "button", class: "danger", disabled: none, onclick: async () => {
      const sure = await confirmAction(`Delete ${count} image${count === 1 ? "" : "s"}?`,
        "They are removed from the project's training images.", "Delete images");
      if (sure) await change(deleteButton, () => api.deleteImages(pid, [...state.selected]));
    }}, "Delete selected");
    fill(toolbar,
      h("span", {class: "choice"}, all, h("label", {for: allId}, "Select all on this page")),
      h("span", {class: "selected-count"}, `${count} selected`),
      detection ? null : h("label", {for: tagSelectId}, "Tag"), detection ? null : tagSelect, tagButton, untagButton,
      deleteButton);
  }

  async function change(button, work) {
    await busy(button, note, async () => {
      await work();
      await reloadAll();
    });
  }

  await reloadAll();
}
