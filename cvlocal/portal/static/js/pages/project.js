// One project: its name, the tabs (Training Images, Performance, Predictions) and the Train / Quick Test actions.
// Each tab is told whether the project is an object detection project (boxes) or a classification one (tags).
import * as api from "../api.js";
import {fill, h} from "../dom.js";
import {messageArea} from "../ui.js";
import {isDetection} from "./projects.js";
import {renderImages} from "./images.js";
import {renderPerformance} from "./performance.js";
import {renderPredictions} from "./predictions.js";
import {quickTestDialog} from "./quicktest.js";
import {trainDialog} from "./train.js";

const TABS = [
  {id: "images", label: "Training Images", render: renderImages},
  {id: "performance", label: "Performance", render: renderPerformance},
  {id: "predictions", label: "Predictions", render: renderPredictions},
];

export async function renderProject(main, {projectId, tab, iterationId}) {
  const note = messageArea();
  fill(main, note.el);
  let project, detection;
  try {
    project = await api.getProject(projectId);
    detection = await isDetection(project);
  } catch (error) {
    fill(main, h("p", {}, h("a", {href: "#/"}, "← Projects")), note.el);
    note.error(error);
    return;
  }
  const current = TABS.find((t) => t.id === tab) || TABS[0];
  document.title = `${project.name} · ${current.label} · Custom Vision portal`;
  const base = `#/projects/${encodeURIComponent(projectId)}`;
  const tabs = h("nav", {class: "tabs", "aria-label": "Project sections"},
    TABS.map((t) => h("a", {href: `${base}/${t.id}`, "aria-current": t.id === current.id ? "page" : null}, t.label)));
  const content = h("section", {class: "tab-content", "aria-label": current.label});
  const train = h("button", {type: "button", class: "primary", onclick: () => trainDialog(project)}, "Train");
  const quickTest = h("button", {type: "button", onclick: () => quickTestDialog(project, {detection})}, "Quick Test");
  fill(main,
    h("p", {class: "crumbs"}, h("a", {href: "#/"}, "Projects"), " / "),
    h("div", {class: "page-head"}, h("h1", {}, project.name), h("div", {class: "actions"}, train, quickTest)),
    tabs, content);
  await current.render(content, {project, iterationId, detection});
}
