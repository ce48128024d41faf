// Boxes as Custom Vision stores them: {left, top, width, height} normalised to the image (0 to 1). Pure functions:
// a drag becomes a box, a move or a resize keeps it inside the image (what is dragged outside is clipped), and the
// boxes on screen against the ones saved become the region calls that make the service match.

export const MIN_SIZE = 0.004;  // a drag smaller than this (normalised) is a click, not a box
export const SAME = 1e-6;       // coordinates closer than this are the same (the service's rounding)
export const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

export const clamp = (value, low = 0, high = 1) => Math.min(high, Math.max(low, value));

/** The box between two points, clipped to the image. */
export function fromCorners(x1, y1, x2, y2) {
  const [a, c] = [clamp(Math.min(x1, x2)), clamp(Math.max(x1, x2))];
  const [b, d] = [clamp(Math.min(y1, y2)), clamp(Math.max(y1, y2))];
  return {left: a, top: b, width: c - a, height: d - b};
}

/** The box moved by (dx, dy), its size kept, stopped at the image's edges. */
export function moved(box, dx, dy) {
  return {...box, left: clamp(box.left + dx, 0, 1 - box.width), top: clamp(box.top + dy, 0, 1 - box.height)};
}

/** The box with the edges a handle ("n", "se", ...) names dragged to (x, y); the opposite edges stay. */
export function resized(box, handle, x, y) {
  let x1 = box.left, y1 = box.top, x2 = box.left + box.width, y2 = box.top + box.height;
  if (handle.includes("w")) x1 = x;
  if (handle.includes("e")) x2 = x;
  if (handle.includes("n")) y1 = y;
  if (handle.includes("s")) y2 = y;
  return {...box, ...fromCorners(x1, y1, x2, y2)};
}

export const big = (box) => box.width >= MIN_SIZE && box.height >= MIN_SIZE;

/** Inside [0, 1] with a positive size: what the service takes. */
export function valid(box) {
  const values = [box.left, box.top, box.width, box.height];
  return values.every((v) => Number.isFinite(v)) && box.left >= 0 && box.top >= 0 && box.width > 0 &&
    box.height > 0 && box.left + box.width <= 1 + SAME && box.top + box.height <= 1 + SAME;
}

export function sameBox(a, b) {
  return a.tagId === b.tagId && ["left", "top", "width", "height"].every((k) => Math.abs(a[k] - b[k]) <= SAME);
}

/** What turns the saved regions into the boxes on screen: region ids to delete and regions to create (a moved,
 * resized or retagged box is one of each); boxes that did not change are left alone. */
export function changes(saved, boxes, imageId) {
  const kept = new Set();
  const create = [];
  for (const box of boxes) {
    const before = box.regionId && saved.find((r) => r.regionId === box.regionId);
    if (before && sameBox(before, box)) {
      kept.add(box.regionId);
    } else {
      create.push({imageId, tagId: box.tagId, left: box.left, top: box.top, width: box.width, height: box.height});
    }
  }
  return {remove: saved.filter((r) => !kept.has(r.regionId)).map((r) => r.regionId), create};
}

/** Two lists of regions hold the same boxes (by region id and place): the image did not change meanwhile. */
export function sameRegions(a, b) {
  if (a.length !== b.length) return false;
  return a.every((r) => b.some((s) => s.regionId === r.regionId && sameBox(r, s)));
}

/** Intersection over union of two boxes. */
export function iou(a, b) {
  const w = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const h = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  const inter = Math.max(0, w) * Math.max(0, h);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}
