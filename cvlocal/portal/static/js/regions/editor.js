// The region editor of an object detection project: one training image at a time with its boxes. Drag on the
// image to draw a box, drag a box to move it, drag its handles to resize it; what is dragged outside the image is
// clipped to it. Each box has a tag (the last one used is the default; 1-9 pick one; a new name creates a tag).
// Region proposals from the latest trained iteration are offered as dashed suggestions to accept.
// Edits stay on the page ("Unsaved changes") until Save, which turns them into delete_image_regions and
// create_image_regions calls; before writing, the image's regions are read again, and if another tab or user has
// changed them since they were loaded the save is refused and the page says so: no box is lost silently.
import * as api from "../api.js";
import {fill, h, percent} from "../dom.js";
import {busy, messageArea, openDialog} from "../ui.js";
import {HANDLES, big, changes, clamp, fromCorners, moved, resized, sameRegions, valid} from "./geometry.js";
import {place, tagColour} from "./overlay.js";

const UNDO_DEPTH = 50;
let lastTag = null;  // the tag last used, by project: the default for the next box, in this and later editors
const PROPOSALS_SHOWN = 10;

const asBox = (r) => ({key: r.regionId, regionId: r.regionId, tagId: r.tagId, left: r.left, top: r.top,
                       width: r.width, height: r.height});

/** Open the editor on `images[index]` (the page's listing); `onChanged()` runs after every save. */
export function regionEditor(project, {images, index, tags, onChanged}) {
  const pid = project.id;
  const state = {index, image: null, saved: [], boxes: [], selected: null, history: [], proposals: [],
                 tag: lastTag && lastTag.project === pid ? lastTag.id : null, drag: null, dirty: false, counter: 0};
  const note = messageArea();
  const heading = h("p", {class: "editor-position", role: "status"});
  const img = h("img", {alt: "", draggable: false});
  const layer = h("div", {class: "region-layer", tabindex: 0, role: "application",
                          "aria-label": "Image: drag to draw a box; Delete removes the selected box; 1-9 pick its tag; "
                                        + "arrow keys move it (Shift: 10 pixels)"});
  const stage = h("div", {class: "region-stage"}, img, layer);
  const tagButtons = h("ul", {class: "tag-keys", "aria-label": "Tags (keys 1-9)"});
  const tagInput = h("input", {type: "text", id: "region-tag-input", maxLength: 100, autocomplete: "off",
                               list: "region-tag-names"});
  const tagNames = h("datalist", {id: "region-tag-names"});
  const useTag = h("button", {type: "submit"}, "Use tag");
  const tagForm = h("form", {class: "inline"}, h("label", {for: tagInput.id}, "Tag for boxes"), tagInput, tagNames,
                    useTag);
  const list = h("ol", {class: "region-list", "aria-label": "Boxes on this image"});
  const status = h("p", {class: "editor-status", role: "status"});
  const save = h("button", {type: "button", class: "primary"}, "Save");
  const undo = h("button", {type: "button"}, "Undo");
  const discard = h("button", {type: "button"}, "Discard changes");
  const suggest = h("button", {type: "button"}, "Suggest regions");
  const previous = h("button", {type: "button"}, "Previous image");
  const next = h("button", {type: "button"}, "Next image");
  const panel = h("div", {class: "region-panel"}, tagForm, tagButtons, list, status,
                  h("div", {class: "actions"}, undo, discard, suggest, save));
  const body = h("div", {class: "region-editor"},
                 h("div", {class: "editor-nav"}, previous, heading, next), note.el,
                 h("div", {class: "editor-body"}, stage, panel));
  const dialog = openDialog("Image regions", body, {wide: true, mayClose});

  /** The image as large as the dialog allows (small images scaled up too), its aspect kept: the layer over it
   * takes the same box, so a pointer's place on the layer is its place on the image. */
  function fit() {
    if (!img.naturalWidth || !stage.isConnected) return;
    const columns = getComputedStyle(stage.parentElement).gridTemplateColumns.split(" ").length;
    const room = stage.parentElement.clientWidth - (columns > 1 ? panel.offsetWidth + 24 : 0);
    const scale = Math.min(Math.max(room, 200) / img.naturalWidth, innerHeight * 0.68 / img.naturalHeight);
    img.style.width = `${Math.round(img.naturalWidth * scale)}px`;
    img.style.height = `${Math.round(img.naturalHeight * scale)}px`;
  }
  img.addEventListener("load", fit);
  addEventListener("resize", fit);
  dialog.addEventListener("close", () => removeEventListener("resize", fit));

  function mayClose() {
    if (state.selected) {
      state.selected = null;
      draw();
      return false;
    }
    if (state.dirty) {
      note.error("Unsaved changes: Save them, or Discard changes, before closing.");
      return false;
    }
    return true;
  }

  // ---- state
  function remember() {  // before each edit: the boxes and the selection, for Undo
    state.history.push(JSON.stringify({boxes: state.boxes, selected: state.selected}));
    if (state.history.length > UNDO_DEPTH) state.history.shift();
  }
  function changed() {
    const {remove, create} = changes(state.saved, state.boxes, state.image.id);
    state.dirty = remove.length > 0 || create.length > 0;
    draw();
  }
  const selectedBox = () => state.boxes.find((b) => b.key === state.selected);
  const tagOf = (id) => tags.find((t) => t.id === id);

  async function show(i) {
    state.index = i;
    const listed = images[i];
    note.clear();
    const [image] = await api.getImagesByIds(pid, [listed.id]);
    if (!image) throw new Error("The image is no longer in the project.");
    state.image = image;
    state.saved = (image.regions || []).map((r) => ({...r}));
    state.boxes = state.saved.map(asBox);
    state.history = [];
    state.proposals = [];
    state.selected = null;
    state.dirty = false;
    img.src = image.originalImageUri;
    img.alt = `Training image ${i + 1} of ${images.length}`;
    heading.textContent = `Image ${i + 1} of ${images.length}`;
    previous.disabled = i === 0;
    next.disabled = i + 1 >= images.length;
    if (state.tag && tagOf(state.tag)) tagInput.value = tagOf(state.tag).name;
    draw();
  }

  // ---- drawing
  function draw() {
    const chosen = state.selected;
    fill(layer,
      state.boxes.map((box, n) => {
        const tag = tagOf(box.tagId);
        const el = place(h("div", {class: `region${box.key === chosen ? " selected" : ""}${tag ? "" : " untagged"}`,
                                   dataset: {key: box.key}},
          h("span", {class: "box-label"}, `${n + 1} ${tag ? tag.name : "no tag"}`),
          box.key === chosen ? HANDLES.map((handle) => h("span", {class: `handle ${handle}`, dataset: {handle}})) : null),
          box);
        el.style.borderColor = tag ? tagColour(tag.id) : "";
        if (tag) el.firstChild.style.background = tagColour(tag.id);
        return el;
      }),
      state.proposals.map((proposal, n) => place(h("button", {type: "button", class: "proposal",
        "aria-label": `Accept suggested region ${n + 1} (confidence ${percent(proposal.confidence)})`,
        title: `Suggested region: confidence ${percent(proposal.confidence)}; click to accept`,
        onclick: () => accept(proposal)}), proposal.boundingBox)).reverse());  // the most confident on top
    fill(list, state.boxes.map((box, n) => {
      const select = h("select", {"aria-label": `Tag of box ${n + 1}`, onchange: () => {
        remember();
        box.tagId = select.value || null;
        changed();
      }}, h("option", {value: ""}, "(no tag)"), tags.map((t) => h("option", {value: t.id, selected: t.id === box.tagId},
                                                                     t.name)));
      return h("li", {class: box.key === chosen ? "selected" : ""},
        h("button", {type: "button", class: "link", "aria-label": `Select box ${n + 1}`,
                     onclick: () => { state.selected = box.key; draw(); }}, `Box ${n + 1}`),
        select,
        h("button", {type: "button", class: "icon danger", "aria-label": `Delete box ${n + 1}`,
                     onclick: () => removeBox(box.key)}, "×"));
    }));
    fill(tagButtons, tags.slice(0, 9).map((t, n) => h("li", {}, h("button", {type: "button",
      "aria-pressed": state.tag === t.id ? "true" : "false", onclick: () => pickTag(t)}, `${n + 1} ${t.name}`))));
    fill(tagNames, tags.map((t) => h("option", {value: t.name})));
    const untagged = state.boxes.filter((b) => !tagOf(b.tagId)).length;
    status.textContent = `${state.boxes.length} box${state.boxes.length === 1 ? "" : "es"}` +
      (state.dirty ? " · Unsaved changes" : " · Saved") + (untagged ? ` · ${untagged} without a tag` : "");
    status.classList.toggle("unsaved", state.dirty);
    save.disabled = !state.dirty;
    discard.disabled = !state.dirty;
    undo.disabled = !state.history.length;
  }

  // ---- editing
  function addBox(box) {
    remember();
    state.counter += 1;
    const key = `new-${state.counter}`;
    state.boxes.push({key, regionId: null, tagId: state.tag, ...box});
    state.selected = key;
    if (!state.tag) note.info("Pick the box's tag: type it above, or press 1-9.");
    changed();
  }
  function removeBox(key) {
    remember();
    state.boxes = state.boxes.filter((b) => b.key !== key);
    if (state.selected === key) state.selected = null;
    changed();
  }
  function pickTag(tag) {
    state.tag = tag.id;
    lastTag = {project: pid, id: tag.id};
    tagInput.value = tag.name;
    const box = selectedBox();
    if (box && box.tagId !== tag.id) {
      remember();
      box.tagId = tag.id;
      changed();
    } else {
      draw();
    }
  }
  function accept(proposal) {
    const b = proposal.boundingBox;
    state.proposals = state.proposals.filter((p) => p !== proposal);
    addBox(fromCorners(b.left, b.top, b.left + b.width, b.top + b.height));
  }

  // ---- the mouse (pointer events: mouse, pen and touch alike)
  function point(event) {
    const rect = layer.getBoundingClientRect();
    return {x: clamp((event.clientX - rect.left) / rect.width), y: clamp((event.clientY - rect.top) / rect.height)};
  }
  layer.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || event.target.closest(".proposal")) return;
    const p = point(event);
    const handle = event.target.dataset.handle;
    const key = event.target.closest(".region")?.dataset.key;
    layer.setPointerCapture(event.pointerId);
    layer.focus();
    if (handle && selectedBox()) {
      state.drag = {mode: "resize", handle, start: p, box: {...selectedBox()}};
    } else if (key) {
      state.selected = key;
      state.drag = {mode: "move", start: p, box: {...selectedBox()}};
      draw();
    } else {
      state.selected = null;
      state.drag = {mode: "draw", start: p, ghost: h("div", {class: "region ghost"})};
      draw();
      layer.append(state.drag.ghost);
    }
    event.preventDefault();
  });
  layer.addEventListener("pointermove", (event) => {
    const drag = state.drag;
    if (!drag) return;
    const p = point(event);
    drag.now = drag.mode === "draw" ? fromCorners(drag.start.x, drag.start.y, p.x, p.y)
      : drag.mode === "move" ? moved(drag.box, p.x - drag.start.x, p.y - drag.start.y)
        : resized(drag.box, drag.handle, p.x, p.y);
    place(drag.mode === "draw" ? drag.ghost : layer.querySelector(`.region[data-key="${CSS.escape(state.selected)}"]`),
          drag.now);
  });
  layer.addEventListener("pointerup", () => {
    const drag = state.drag;
    state.drag = null;
    if (!drag) return;  // not ours (a suggestion's click): redrawing now would take its button away
    if (!drag.now) return draw();
    if (drag.mode === "draw") {
      if (big(drag.now)) addBox(drag.now); else draw();
      return;
    }
    if (!big(drag.now)) return draw();
    remember();
    Object.assign(selectedBox(), {left: drag.now.left, top: drag.now.top, width: drag.now.width,
                                  height: drag.now.height});
    changed();
  });

  // ---- the keyboard
  body.addEventListener("keydown", (event) => {
    const typing = event.target.matches("input, select, textarea");
    const box = selectedBox();
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      if (!save.disabled) save.click();
    } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && !typing) {
      event.preventDefault();
      undoLast();
    } else if (typing) {
      return;
    } else if ((event.key === "Delete" || event.key === "Backspace") && box) {
      event.preventDefault();
      removeBox(box.key);
    } else if (/^[1-9]$/.test(event.key) && tags[Number(event.key) - 1]) {
      event.preventDefault();
      pickTag(tags[Number(event.key) - 1]);
    } else if (event.key.startsWith("Arrow") && box) {
      event.preventDefault();
      const rect = layer.getBoundingClientRect();
      const step = event.shiftKey ? 10 : 1;
      const dx = {ArrowLeft: -step, ArrowRight: step}[event.key] || 0;
      const dy = {ArrowUp: -step, ArrowDown: step}[event.key] || 0;
      remember();
      Object.assign(box, event.altKey ? resized(box, "se", box.left + box.width + dx / rect.width,
                                                box.top + box.height + dy / rect.height)
                                      : moved(box, dx / rect.width, dy / rect.height));
      changed();
    } else if (event.key === "PageDown" && !next.disabled) {
      event.preventDefault();
      next.click();
    } else if (event.key === "PageUp" && !previous.disabled) {
      event.preventDefault();
      previous.click();
    }
  });
  function undoLast() {
    if (!state.history.length) return;
    ({boxes: state.boxes, selected: state.selected} = JSON.parse(state.history.pop()));
    if (!selectedBox()) state.selected = null;
    changed();
  }

  // ---- tags typed by name
  tagForm.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(useTag, note, async () => {
      const name = tagInput.value.trim();
      if (!name) throw new Error("Type a tag name, or pick one.");
      let tag = tags.find((t) => t.name.toLowerCase() === name.toLowerCase());
      if (!tag) {
        tag = await api.createTag(pid, name);
        tags.push(tag);
        note.info(`Tag “${tag.name}” created.`);
      }
      pickTag(tag);
    });
  });

  // ---- buttons
  undo.addEventListener("click", undoLast);
  discard.addEventListener("click", () => {
    state.boxes = state.saved.map(asBox);
    state.history = [];
    state.selected = null;
    note.clear();
    changed();
  });
  suggest.addEventListener("click", () => busy(suggest, note, async () => {
    const answer = await api.getImageRegionProposals(pid, state.image.id);
    state.proposals = [...(answer.proposals || [])].sort((a, b) => b.confidence - a.confidence)
      .filter((p) => valid(p.boundingBox)).slice(0, PROPOSALS_SHOWN);
    note.info(state.proposals.length ? `${state.proposals.length} suggested region(s): click one to accept it.`
                                     : "No suggested regions for this image.");
    draw();
  }));
  for (const [button, step] of [[previous, -1], [next, 1]]) {
    button.addEventListener("click", () => {
      if (state.dirty) {
        note.error("Unsaved changes: Save them, or Discard changes, before moving to another image.");
        return;
      }
      busy(button, note, () => show(state.index + step));
    });
  }
  save.addEventListener("click", () => busy(save, note, async () => {
    const untagged = state.boxes.findIndex((b) => !tagOf(b.tagId));
    if (untagged >= 0) throw new Error(`Box ${untagged + 1} has no tag: pick one before saving.`);
    const bad = state.boxes.findIndex((b) => !valid(b));
    if (bad >= 0) throw new Error(`Box ${bad + 1} is not inside the image.`);
    const [now] = await api.getImagesByIds(pid, [state.image.id]);
    if (!now) throw new Error("The image was deleted meanwhile (in another tab?): nothing was saved.");
    if (!sameRegions(state.saved, now.regions || [])) {
      conflict();
      return;
    }
    const {remove, create} = changes(state.saved, state.boxes, state.image.id);
    await api.deleteImageRegions(pid, remove);
    const answer = await api.createImageRegions(pid, create);
    const keep = state.index;
    await show(keep);
    const refused = answer.exceeded.length + answer.duplicated.length;
    if (refused) {
      note.error(`${refused} box(es) were not added: ${answer.exceeded.length} over the limit of regions an image, `
                 + `${answer.duplicated.length} duplicates.`);
    } else {
      note.info(`Saved: ${remove.length} removed, ${create.length} added.`);
    }
    if (onChanged) await onChanged();
  }));

  function conflict() {
    const reload = h("button", {type: "button", onclick: () => busy(reload, note, async () => {
      state.dirty = false;
      await show(state.index);
      note.info("Reloaded: these are the boxes saved now. Redo your changes on them.");
    })}, "Reload image");
    note.error("This image's boxes were changed elsewhere (another tab or user) since you opened it, so your "
               + "changes were not saved. Reload to see the saved boxes; your unsaved ones stay here until then.");
    note.el.append(" ", reload);
  }

  busy(null, note, () => show(state.index));
  return dialog;
}
