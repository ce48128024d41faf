// Performance: the iterations list; for one iteration precision, recall and AP at a probability threshold
// (recomputed by the service's get_iteration_performance, as Azure does), the per-tag table, a precision-recall
// curve per tag, the most confused tags and the suspect labels from the held-out results (insight.js), and the
// iteration's actions (publish, prediction URL, export, delete).
import * as api from "../api.js";
import {fill, formatDate, h, percent} from "../dom.js";
import {insightSections} from "../insight.js";
import {curvePoints, curveSvg} from "../prcurve.js";
import {describe, messageArea} from "../ui.js";
import {iterationActions} from "./iteration-actions.js";

const DEBOUNCE_MS = 150;
const POLL_MS = 2000;

export async function renderPerformance(content, {project, iterationId}) {
  const pid = project.id;
  const note = messageArea();
  const list = h("nav", {class: "filters iterations", "aria-label": "Iterations"});
  const detail = h("div", {class: "main-column"});
  fill(content, note.el, h("div", {class: "with-sidebar"}, list, detail));
  let iterations;
  try {
    iterations = await api.getIterations(pid);
  } catch (error) {
    note.error(error);
    return;
  }
  if (!iterations.length) {
    fill(detail, h("p", {class: "empty"}, "No iterations yet. Add tagged images, then Train."));
    return;
  }
  const shown = iterations.find((i) => i.id === iterationId) ||
                iterations.find((i) => i.status === "Completed") || iterations[0];
  const base = `#/projects/${encodeURIComponent(pid)}/performance`;
  fill(list, h("h2", {}, "Iterations"), h("ul", {}, iterations.map((it) => h("li", {},
    h("a", {href: `${base}/${encodeURIComponent(it.id)}`, "aria-current": it.id === shown.id ? "page" : null},
      h("span", {class: "it-name"}, it.name),
      h("span", {class: "it-meta"}, it.status === "Completed" ? formatDate(it.trainedAt) : it.status),
      it.publishName ? h("span", {class: "badge"}, `Published as ${it.publishName}`) : null)))));
  await renderIteration(detail, project, shown, () => renderPerformance(content, {project, iterationId: shown.id}));
}

async function renderIteration(detail, project, iteration, refresh) {
  const note = messageArea();
  const head = h("div", {class: "page-head"}, h("h2", {}, iteration.name),
    h("div", {class: "actions"}, iterationActions(project, iteration, note, refresh)));
  const facts = h("p", {class: "facts-line"}, [
    iteration.trainingType === "Advanced" ? `Advanced training (${iteration.reservedBudgetInHours} h budget)`
                                          : "Quick training",
    iteration.classificationType,
    iteration.trainedAt ? `trained ${formatDate(iteration.trainedAt)}` : iteration.status,
    iteration.publishName ? `published as “${iteration.publishName}”` : "not published",
  ].filter(Boolean).join(" · "));
  fill(detail, head, facts, note.el);
  if (iteration.status === "Training") {
    detail.append(h("p", {role: "status"}, `${iteration.name} is training…`));
    setTimeout(async () => { if (detail.isConnected) refresh(); }, POLL_MS);
    return;
  }
  if (iteration.status !== "Completed") {
    detail.append(h("p", {role: "alert", class: "message error"},
      `${iteration.name} ${iteration.status}: ${iteration.trainingErrorDetails || "no details given"}`));
    return;
  }

  const slider = h("input", {type: "range", id: "threshold", min: 0, max: 100, step: 1, value: 50});
  const shownValue = h("output", {for: "threshold", id: "threshold-value"}, "50%");
  const metrics = h("dl", {class: "metrics", "aria-live": "polite"});
  const table = h("table", {class: "per-tag"}, h("caption", {}, "Performance per tag"),
    h("thead", {}, h("tr", {}, ["Tag", "Precision", "Recall", "A.P.", "Image count"]
      .map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", {}));
  const curves = h("div", {class: "curves"});
  const insight = insightSections(iteration.classificationType === "Multilabel");
  detail.append(
    h("section", {"aria-labelledby": "perf-title"},
      h("h3", {id: "perf-title"}, "Performance"),
      h("div", {class: "threshold"}, h("label", {for: "threshold"}, "Probability Threshold"), slider, shownValue),
      metrics, table),
    h("section", {"aria-labelledby": "curves-title"}, h("h3", {id: "curves-title"}, "Precision-recall curve per tag"),
      curves),
    ...insight.sections);

  const tags = await api.getTags(project.id, iteration.id).catch(() => []);
  const counts = new Map(tags.map((t) => [t.id, t.imageCount]));
  let latest = 0;
  let curveMovers = [];
  async function load(threshold) {
    const token = ++latest;
    metrics.setAttribute("aria-busy", "true");
    try {
      const perf = await api.getIterationPerformance(project.id, iteration.id, threshold);
      if (token !== latest) return;
      fill(metrics,
        h("div", {}, h("dt", {}, "Precision"), h("dd", {"data-metric": "precision"}, percent(perf.precision))),
        h("div", {}, h("dt", {}, "Recall"), h("dd", {"data-metric": "recall"}, percent(perf.recall))),
        h("div", {}, h("dt", {}, "AP"), h("dd", {"data-metric": "averagePrecision"}, percent(perf.averagePrecision))));
      fill(table.tBodies[0], (perf.perTagPerformance || []).map((t) => h("tr", {},
        h("th", {scope: "row"}, t.name), h("td", {}, percent(t.precision)), h("td", {}, percent(t.recall)),
        h("td", {}, percent(t.averagePrecision)), h("td", {}, String(counts.get(t.id) ?? "–")))));
    } catch (error) {
      if (token === latest) note.error(error);
    } finally {
      if (token === latest) metrics.removeAttribute("aria-busy");
    }
  }
  let timer = null;
  slider.addEventListener("input", () => {
    const threshold = Number(slider.value) / 100;
    shownValue.textContent = `${slider.value}%`;
    curveMovers.forEach((move) => move(threshold));
    insight.threshold(threshold);
    clearTimeout(timer);
    timer = setTimeout(() => load(threshold), DEBOUNCE_MS);
  });
  await load(0.5);
  curveMovers = await drawCurves(curves, project, iteration, 0.5, insight);
}

/** Curves, confusion and suspects from every held-out image (paged, MAX_TAKE at a time); says so clearly when the
 *  route is missing. */
async function drawCurves(curves, project, iteration, threshold, insight) {
  curves.setAttribute("aria-busy", "true");
  try {
    const total = await api.getImagePerformanceCount(project.id, iteration.id);
    const images = await api.all((page) => api.getImagePerformances(project.id, iteration.id, page), total);
    insight.show(images, threshold);
    const tags = await api.getTags(project.id, iteration.id);
    const movers = [];
    fill(curves, tags.map((tag) => {
      const points = curvePoints(images, tag.id);
      if (!points) return h("figure", {}, h("figcaption", {}, `${tag.name}: no held-out images`));
      const {svg, move} = curveSvg(tag.name, points, threshold);
      movers.push(move);
      return h("figure", {}, svg, h("figcaption", {}, tag.name));
    }));
    return movers;
  } catch (error) {
    const why = error.routeMissing
      ? "This service does not serve the held-out results yet (get_image_performances), so the curves cannot be drawn. "
      : "The held-out results could not be read. ";
    fill(curves, h("p", {class: "message info", role: "status"}, why + describe(error)));
    insight.unavailable(why);
    return [];
  } finally {
    curves.removeAttribute("aria-busy");
  }
}
