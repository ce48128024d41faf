// Boxes drawn over an image (training regions, detections, stored predictions): positioned in percent of the
// image, so they stay on their objects at any size; labels are text nodes (tag names are never markup).
import {h} from "../dom.js";

const PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#e377c2", "#8c564b",
                 "#bcbd22", "#7f7f7f"];

/** A colour per tag, the same on every page (from the tag's id). */
export function tagColour(tagId) {
  let hash = 0;
  for (const c of String(tagId || "")) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

export function place(el, box) {
  el.style.left = `${box.left * 100}%`;
  el.style.top = `${box.top * 100}%`;
  el.style.width = `${box.width * 100}%`;
  el.style.height = `${box.height * 100}%`;
  return el;
}

/** [{tagId, tagName, left, top, width, height, probability?}] as outlined boxes with their labels. */
export function boxLayer(boxes, {labels = true} = {}) {
  return h("div", {class: "box-layer", "aria-hidden": "true"}, boxes.map((box) => {
    const colour = tagColour(box.tagId);
    const label = box.probability === undefined ? box.tagName : `${box.tagName} ${(box.probability * 100).toFixed(0)}%`;
    const el = place(h("div", {class: "box"}, labels ? h("span", {class: "box-label"}, label) : null), box);
    el.style.borderColor = colour;
    if (labels) el.firstChild.style.background = colour;
    return el;
  }));
}

/** An image with boxes over it; `img` keeps its own size rules. */
export function boxedImage(img, boxes, options) {
  return h("span", {class: "boxed"}, img, boxLayer(boxes, options));
}

/** A prediction's box in the region shape: {tagId, tagName, probability, left, top, width, height}. */
export function predictedBox(prediction) {
  return {tagId: prediction.tagId, tagName: prediction.tagName, probability: prediction.probability,
          ...prediction.boundingBox};
}
