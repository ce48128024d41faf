// Projects: the list (name, type, domain, image count, published iteration), create, edit, delete.
import * as api from "../api.js";
import {field, fill, h} from "../dom.js";
import {busy, confirmAction, messageArea, openDialog, radioGroup} from "../ui.js";

const PROJECT_TYPES = [
  {value: "Classification", label: "Classification"},
  {value: "ObjectDetection", label: "Object Detection"},
];

const CLASSIFICATION_TYPES = [
  {value: "Multilabel", label: "Multilabel (Multiple tags per image)"},
  {value: "Multiclass", label: "Multiclass (Single tag per image)"},
];

let domainsCache = null;
async function allDomains() {
  if (!domainsCache) domainsCache = (await api.getDomains()).filter((d) => d.enabled);
  return domainsCache;
}

/** The domains of one project type ("Classification" or "ObjectDetection"): a project's type is its domain's. */
export async function domainsOfType(type) {
  return (await allDomains()).filter((d) => d.type === type);
}

export async function classificationDomains() {
  return domainsOfType("Classification");
}

/** Whether a project is an object detection project (its domain's type). */
export async function isDetection(project) {
  return projectType(await allDomains(), project.settings || {}) === "ObjectDetection";
}

function projectType(domains, settings) {
  const domain = domains.find((d) => d.id === settings.domainId);
  return domain ? domain.type : "Classification";
}

export function domainName(domains, id) {
  const domain = domains.find((d) => d.id === id);
  return domain ? domain.name : id;
}

export async function renderProjects(main) {
  document.title = "Projects · Custom Vision portal";
  const list = h("ul", {class: "projects", "aria-label": "Projects", "aria-busy": "true"});
  const note = messageArea();
  const create = h("button", {type: "button", class: "primary", onclick: () => projectDialog(null, reload)},
                   "New project");
  fill(main, h("div", {class: "page-head"}, h("h1", {}, "Projects"), create), note.el, list);

  async function reload() {
    list.setAttribute("aria-busy", "true");
    try {
      const [projects, domains] = await Promise.all([api.getProjects(), allDomains()]);
      projects.sort((a, b) => String(b.created).localeCompare(String(a.created)));  // newest first
      const details = await Promise.all(projects.map(async (project) => {
        const [count, iterations] = await Promise.all([api.getImageCount(project.id), api.getIterations(project.id)]);
        return {count, published: iterations.filter((i) => i.publishName)};
      }));
      fill(list, projects.length ? projects.map((project, i) => projectCard(project, details[i], domains, reload))
                                 : h("li", {class: "empty"}, "No projects yet. Create one to start."));
    } catch (error) {
      note.error(error);
    } finally {
      list.removeAttribute("aria-busy");
    }
  }
  await reload();
}

function projectCard(project, {count, published}, domains, reload) {
  const settings = project.settings || {};
  const link = h("a", {href: `#/projects/${encodeURIComponent(project.id)}`}, project.name);
  const edit = h("button", {type: "button", "aria-label": `Edit project ${project.name}`,
                            onclick: () => projectDialog(project, reload)}, "Edit");
  const remove = h("button", {type: "button", class: "danger", "aria-label": `Delete project ${project.name}`,
                              onclick: () => deleteProject(project, reload)}, "Delete");
  const publishedText = published.length
    ? `Published: ${published.map((i) => `${i.publishName} (${i.name})`).join(", ")}`
    : "Not published";
  return h("li", {class: "card project"},
    h("h2", {}, link),
    project.description ? h("p", {class: "description"}, project.description) : null,
    h("dl", {class: "facts"},
      h("dt", {}, "Type"), h("dd", {}, projectType(domains, settings) === "ObjectDetection" ? "Object Detection"
                                       : `Classification · ${settings.classificationType || ""}`),
      h("dt", {}, "Domain"), h("dd", {}, domainName(domains, settings.domainId)),
      h("dt", {}, "Images"), h("dd", {}, String(count)),
      h("dt", {}, "Prediction"), h("dd", {}, publishedText)),
    h("div", {class: "actions"}, edit, remove));
}

async function deleteProject(project, reload) {
  const sure = await confirmAction(`Delete project ${project.name}?`,
    "Its images, tags, iterations and published models are deleted with it. This cannot be undone.",
    "Delete project");
  if (!sure) return;
  try {
    await api.deleteProject(project.id);
  } catch (error) {
    alertError(error);
  }
  await reload();
}

function alertError(error) {
  const note = messageArea();
  openDialog("The service refused", note.el);
  note.error(error);
}

/** Create (project null) or edit a project, as the Azure portal's "Create new project" dialog: a new project's
 * type is chosen there (its domains follow it); an existing project's type cannot change. */
async function projectDialog(project, reload) {
  const settings = (project && project.settings) || {};
  let type = project ? projectType(await allDomains(), settings) : "Classification";
  const name = h("input", {type: "text", required: true, value: project ? project.name : "", maxLength: 200});
  const description = h("textarea", {rows: 2}, project ? project.description || "" : "");
  const types = radioGroup("Classification Types", "classification-type", CLASSIFICATION_TYPES,
                           settings.classificationType || "Multilabel");
  const projectTypes = radioGroup("Project Types", "project-type", PROJECT_TYPES, type);
  const domainBox = h("div", {});
  let domainChoice;
  async function drawDomains() {
    const domains = await domainsOfType(type);
    domainChoice = radioGroup("Domains", "domain", domains.map((d) => ({
      value: d.id, label: d.name,
      hint: `${d.modelInformation?.description || ""}${d.exportable ? " Exportable (ONNX)." : ""}`,
    })), domains.some((d) => d.id === settings.domainId) ? settings.domainId : domains[0]?.id);
    fill(domainBox, domainChoice.el);
    types.el.hidden = type === "ObjectDetection";
  }
  await drawDomains();
  for (const input of projectTypes.inputs) {
    input.addEventListener("change", () => { type = projectTypes.value(); drawDomains(); });
  }
  const note = messageArea();
  const submit = h("button", {type: "submit", class: "primary"}, project ? "Save changes" : "Create project");
  const cancel = h("button", {type: "button", onclick: () => dialog.close()}, "Cancel");
  const detection = type === "ObjectDetection";
  const form = h("form", {class: "stack"},
    field("Name", name), field("Description", description),
    project ? h("p", {class: "hint"}, `Project type: ${detection ? "Object Detection" : "Classification"} (a `
                                      + "project's type cannot change).") : projectTypes.el,
    types.el, domainBox, note.el, h("div", {class: "actions"}, cancel, submit));
  const dialog = openDialog(project ? `Edit project ${project.name}` : "Create new project", form);
  name.focus();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, note, async () => {
      const values = {name: name.value.trim(), description: description.value.trim(),
                      domainId: domainChoice.value(),
                      classificationType: type === "ObjectDetection" ? undefined : types.value()};
      if (!values.name) throw new Error("Give the project a name.");
      if (project) {
        await api.updateProject(project.id, {name: values.name, description: values.description,
          settings: {...settings, domainId: values.domainId,
                     classificationType: detection ? settings.classificationType : values.classificationType}});
      } else {
        const created = await api.createProject(values);
        dialog.close();
        location.hash = `#/projects/${encodeURIComponent(created.id)}`;
        return;
      }
      dialog.close();
      await reload();
    });
  });
}
