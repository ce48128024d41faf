// Confusion and suspect labels from the held-out results (get_image_performances), as the pipeline computes them
// (pipeline/insight/confusion.py and suspects.py; docs/pipeline-config.md says the rules):
// - Multiclass: an image is predicted as its most probable tag. Multilabel: as every tag at or above the
//   threshold; each predicted tag it was not given counts against every tag it was given.
// - A pair (given A, predicted B) is confused at the rate count / images given A; worst first.
// - A suspect is an image for which another tag is more likely than the one it was given; its score is
//   1 - p(given) (confident learning's self-confidence; Multilabel: its given tag with the lowest probability),
//   the suggested tag the most probable tag it was not given.

function probabilities(image) {
  const p = new Map();
  for (const prediction of image.predictions || []) p.set(prediction.tagName, prediction.probability);
  return p;
}

function given(image) {
  return [...new Set((image.tags || []).map((t) => t.tagName))];
}

function topTag(p) {
  let best = null;
  for (const [tag, value] of p) {
    if (best === null || value > p.get(best) || (value === p.get(best) && tag > best)) best = tag;
  }
  return best;
}

/** {tags, matrix, pairs: [{given, predicted, images, rate}], perTag: {tag: {images, tp, fp, fn}}, images}. */
export function confusion(images, {multilabel = false, threshold = 0.5} = {}) {
  const tags = [...new Set(images.flatMap((i) => [...given(i), ...probabilities(i).keys()]))].sort();
  const index = new Map(tags.map((t, i) => [t, i]));
  const matrix = tags.map(() => tags.map(() => 0));
  const perTag = Object.fromEntries(tags.map((t) => [t, {images: 0, tp: 0, fp: 0, fn: 0}]));
  for (const image of images) {
    const p = probabilities(image);
    const mine = given(image);
    const predicted = multilabel ? new Set([...p].filter(([, v]) => v >= threshold).map(([t]) => t))
                                 : new Set(p.size ? [topTag(p)] : []);
    for (const g of mine) {
      perTag[g].images += 1;
      if (predicted.has(g)) { perTag[g].tp += 1; matrix[index.get(g)][index.get(g)] += 1; } else perTag[g].fn += 1;
    }
    for (const q of predicted) {
      if (mine.includes(q)) continue;
      perTag[q].fp += 1;
      for (const g of mine) matrix[index.get(g)][index.get(q)] += 1;
    }
  }
  const pairs = [];
  tags.forEach((g, i) => tags.forEach((q, j) => {
    if (i !== j && matrix[i][j] && perTag[g].images) {
      pairs.push({given: g, predicted: q, images: matrix[i][j], rate: matrix[i][j] / perTag[g].images});
    }
  }));
  pairs.sort((a, b) => b.rate - a.rate || b.images - a.images || (a.given < b.given ? -1 : a.given > b.given ? 1 : 0)
                       || (a.predicted < b.predicted ? -1 : a.predicted > b.predicted ? 1 : 0));
  return {tags, matrix, pairs, perTag, images: images.length};
}

/** Suspects scoring above minScore (every: every image, suspect or not), most suspect first:
 *  [{image, given, suggested, score, pGiven, pSuggested}]. */
export function suspects(images, {minScore = 0, every = false} = {}) {
  const found = [];
  for (const image of images) {
    const p = probabilities(image);
    const mine = given(image);
    const others = [...p.keys()].filter((t) => !mine.includes(t));
    if (!mine.length || !others.length) continue;
    const prob = (t) => p.get(t) ?? 0;
    const weakest = mine.reduce((a, b) => (prob(b) < prob(a) || (prob(b) === prob(a) && b < a)) ? b : a);
    const strongest = others.reduce((a, b) => (prob(b) > prob(a) || (prob(b) === prob(a) && b > a)) ? b : a);
    const score = 1 - prob(weakest);
    if (every || (prob(strongest) > prob(weakest) && score > minScore)) {
      found.push({image, given: weakest, suggested: strongest, score, pGiven: prob(weakest), pSuggested: prob(strongest)});
    }
  }
  return found.sort((a, b) => b.score - a.score || b.pSuggested - a.pSuggested ||
                              (a.image.id < b.image.id ? -1 : a.image.id > b.image.id ? 1 : 0));
}
