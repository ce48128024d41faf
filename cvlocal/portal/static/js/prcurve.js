// Precision-recall curve of one tag from the held-out results (get_image_performances), drawn as inline SVG.
const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function probabilityOf(image, tagId) {
  const prediction = (image.predictions || []).find((p) => p.tagId === tagId);
  return prediction ? prediction.probability : 0;
}

/** [{threshold, precision, recall}] from the highest threshold down; null when the tag has no held-out image. */
export function curvePoints(images, tagId) {
  const scored = images.map((image) => ({score: probabilityOf(image, tagId),
                                         positive: (image.tags || []).some((t) => t.tagId === tagId)}))
                       .sort((a, b) => b.score - a.score);
  const positives = scored.filter((x) => x.positive).length;
  if (!positives) return null;
  const points = [];
  let truePositives = 0;
  scored.forEach((x, i) => {
    if (x.positive) truePositives += 1;
    const lastOfTie = i + 1 === scored.length || scored[i + 1].score !== x.score;  // tied scores: one threshold
    if (lastOfTie) {
      points.push({threshold: x.score, precision: truePositives / (i + 1), recall: truePositives / positives});
    }
  });
  return points;
}

/** The point of the curve at a probability threshold (images with probability >= threshold predicted). */
export function pointAt(points, threshold) {
  const reached = points.filter((p) => p.threshold >= threshold);
  return reached.length ? reached[reached.length - 1] : {threshold, precision: 1, recall: 0};
}

const W = 240, H = 180, PAD = 32;
const x = (recall) => PAD + recall * (W - PAD - 8);
const y = (precision) => H - PAD - precision * (H - PAD - 8);

/** An <svg role=img> of the curve with a dot at `threshold`; the dot moves with the slider (`move`). */
export function curveSvg(tagName, points, threshold) {
  const path = [{recall: 0, precision: points[0].precision}, ...points]
    .map((p, i) => `${i ? "L" : "M"}${x(p.recall).toFixed(1)},${y(p.precision).toFixed(1)}`).join(" ");
  const dot = s("circle", {r: 4, class: "threshold-dot"});
  const title = s("title");
  const svg = s("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", class: "pr-curve"},
    title,
    s("line", {x1: PAD, y1: H - PAD, x2: W - 8, y2: H - PAD, class: "axis"}),
    s("line", {x1: PAD, y1: 8, x2: PAD, y2: H - PAD, class: "axis"}),
    s("text", {x: (W + PAD) / 2, y: H - 8, "text-anchor": "middle"}, "Recall"),
    s("text", {x: 12, y: (H - PAD) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(H - PAD) / 2})`},
      "Precision"),
    s("text", {x: PAD - 4, y: 14, "text-anchor": "end", class: "tick"}, "1"),
    s("text", {x: PAD - 4, y: H - PAD, "text-anchor": "end", class: "tick"}, "0"),
    s("text", {x: W - 8, y: H - PAD + 14, "text-anchor": "end", class: "tick"}, "1"),
    s("path", {d: path, class: "curve"}), dot);
  function move(t) {
    const p = pointAt(points, t);
    dot.setAttribute("cx", x(p.recall).toFixed(1));
    dot.setAttribute("cy", y(p.precision).toFixed(1));
    const label = `${tagName}: precision-recall curve; at ${Math.round(t * 100)}% ` +
                  `precision ${(p.precision * 100).toFixed(1)}%, recall ${(p.recall * 100).toFixed(1)}%`;
    svg.setAttribute("aria-label", label);
    title.textContent = label;
  }
  move(threshold);
  return {svg, move};
}
