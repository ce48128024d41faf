// The Performance page's "Most confused tags" and "Suspect labels" sections, from the held-out results the page
// has read for its curves (confusion.js computes both as the pipeline does). Readable with 81 tags: the worst
// pairs in a table, a matrix of only the tags in those pairs (optional heat colouring: a cell's share of its
// row), and the top suspects as thumbnails. Multilabel projects follow the threshold slider.
import {confusion, suspects} from "./confusion.js";
import {fill, h, percent, uid} from "./dom.js";

export const TOP_PAIRS = 20;
export const TOP_SUSPECTS = 20;
const MATRIX_TAGS = 25;  // at most this many tags in the matrix: those of the worst pairs

export function insightSections(multilabel) {
  const pairsBox = h("div", {class: "confusion"}, h("p", {class: "summary"}, "Reading the held-out results…"));
  const suspectsBox = h("div", {}, h("p", {class: "summary"}, "Reading the held-out results…"));
  const heatId = uid("heat");
  const heat = h("input", {type: "checkbox", id: heatId});
  let images = null;
  let matrixTable = null;
  heat.addEventListener("change", () => matrixTable?.classList.toggle("heat", heat.checked));
  const sections = [
    h("section", {"aria-labelledby": "confusion-title"}, h("h3", {id: "confusion-title"}, "Most confused tags"),
      pairsBox),
    h("section", {"aria-labelledby": "suspects-title"}, h("h3", {id: "suspects-title"}, "Suspect labels"),
      suspectsBox)];

  function draw(threshold) {
    const found = confusion(images, {multilabel, threshold});
    const rule = multilabel ? `every tag at or above ${Math.round(threshold * 100)}%` : "its most probable tag";
    const head = h("p", {class: "summary"}, `${found.images} held-out images, each predicted as ${rule}. ` +
      (found.pairs.length ? `${found.pairs.length} confused pair(s)` +
                            (found.pairs.length > TOP_PAIRS ? `; the ${TOP_PAIRS} worst:` : ":")
                          : "No image was predicted as another tag than its own."));
    if (!found.pairs.length) { fill(pairsBox, head); matrixTable = null; return; }
    const [about, table] = matrix(found);
    matrixTable = table;
    matrixTable.classList.toggle("heat", heat.checked);
    fill(pairsBox, head, pairsTable(found.pairs.slice(0, TOP_PAIRS)),
      h("div", {class: "inline"}, heat, h("label", {for: heatId}, "Heat colours (each cell's share of its row)")),
      about, h("div", {class: "matrix-scroll"}, matrixTable));
  }

  function drawSuspects() {
    const found = suspects(images);
    const head = h("p", {class: "summary"}, found.length
      ? `${found.length} training image(s) whose given tag is less likely than another tag, held out. Score: ` +
        "1 − p(given). Suggestions only: no label is changed." +
        (found.length > TOP_SUSPECTS ? ` The ${TOP_SUSPECTS} most suspect:` : "")
      : "No training image has a tag more likely than the one it was given.");
    fill(suspectsBox, head, found.length ? h("ul", {class: "grid suspects"}, found.slice(0, TOP_SUSPECTS).map((s) =>
      h("li", {class: "suspect", "aria-label": `Given ${s.given}, suggested ${s.suggested}, score ` +
                                                `${s.score.toFixed(3)}`},
        h("img", {src: s.image.thumbnailUri, alt: "", loading: "lazy", decoding: "async", width: 160, height: 120}),
        h("dl", {},
          h("dt", {}, "Given"), h("dd", {}, `${s.given} (${percent(s.pGiven)})`),
          h("dt", {}, "Suggested"), h("dd", {}, `${s.suggested} (${percent(s.pSuggested)})`),
          h("dt", {}, "Score"), h("dd", {}, s.score.toFixed(3)))))) : null);
  }

  return {
    sections,
    show(all, threshold) { images = all; draw(threshold); drawSuspects(); },
    threshold(value) { if (images && multilabel) draw(value); },
    unavailable(why) {
      for (const box of [pairsBox, suspectsBox]) fill(box, h("p", {class: "message info"}, why));
    },
  };
}

function pairsTable(pairs) {
  return h("table", {class: "pairs"}, h("caption", {}, "Most confused pairs"),
    h("thead", {}, h("tr", {}, ["Given tag", "Predicted as", "Images", "Share of the given tag"]
      .map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", {}, pairs.map((p) => h("tr", {}, h("th", {scope: "row"}, p.given), h("td", {}, p.predicted),
      h("td", {}, String(p.images)), h("td", {}, percent(p.rate))))));
}

/** [what it shows, the table]: the counts among the tags of the worst pairs, rows given, columns predicted. */
function matrix(found) {
  const shown = [];
  for (const p of found.pairs) {
    for (const t of [p.given, p.predicted]) if (!shown.includes(t) && shown.length < MATRIX_TAGS) shown.push(t);
  }
  shown.sort();
  const at = new Map(found.tags.map((t, i) => [t, i]));
  const about = h("p", {class: "summary"}, "Confusion matrix: rows are the given tag, columns the predicted one" +
    (shown.length < found.tags.length ? ` (${shown.length} of ${found.tags.length} tags: those in the worst pairs).`
                                      : "."));
  return [about, h("table", {class: "matrix"}, h("caption", {}, "Confusion matrix"),
    h("thead", {}, h("tr", {}, h("td", {}), shown.map((t) => h("th", {scope: "col"}, t)))),
    h("tbody", {}, shown.map((g) => h("tr", {}, h("th", {scope: "row"}, g), shown.map((q) => {
      const count = found.matrix[at.get(g)][at.get(q)];
      const rate = found.perTag[g].images ? count / found.perTag[g].images : 0;
      const cell = h("td", {class: g === q ? "hit" : count ? "off" : null,
                            title: `given ${g}, predicted ${q}: ${count} (${percent(rate)})`}, String(count));
      cell.style.setProperty("--heat", rate.toFixed(3));
      return cell;
    })))))];
}
