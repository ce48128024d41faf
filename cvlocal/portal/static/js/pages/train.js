// Train: Quick (Regular) or Advanced with a budget in hours; a live status until the iteration has trained,
// then its performance page.
import * as api from "../api.js";
import {field, h} from "../dom.js";
import {busy, messageArea, openDialog, radioGroup} from "../ui.js";

const POLL_MS = 1000;

export function trainDialog(project) {
  const types = radioGroup("Choose Training Type", "training-type", [
    {value: "Regular", label: "Quick Training", hint: "Trains in seconds to minutes."},
    {value: "Advanced", label: "Advanced Training", hint: "Custom Vision searches longer within a budget."},
  ], "Regular");
  const budget = h("input", {type: "number", min: 1, max: 96, step: 1, value: 1, disabled: true, inputMode: "numeric"});
  for (const input of types.inputs) {
    input.addEventListener("change", () => { budget.disabled = types.value() !== "Advanced"; });
  }
  const force = h("input", {type: "checkbox", id: "force-train"});
  const note = messageArea();
  const status = h("p", {class: "training-status", role: "status", "aria-live": "polite"});
  const submit = h("button", {type: "submit", class: "primary"}, "Train");
  const cancel = h("button", {type: "button", onclick: () => dialog.close()}, "Close");
  const form = h("form", {class: "stack"}, types.el,
    field("Training budget (hours)", budget, "Advanced training only; at least 1 hour."),
    h("div", {class: "choice"}, force,
      h("label", {for: force.id}, "Train even if nothing changed since the last iteration")),
    note.el, status, h("div", {class: "actions"}, cancel, submit));
  let stopped = false;
  const dialog = openDialog(`Train ${project.name}`, form, {onClose: () => { stopped = true; }});
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, note, async () => {
      const advanced = types.value() === "Advanced";
      const hours = Number(budget.value);
      if (advanced && !(Number.isInteger(hours) && hours >= 1)) {
        throw new Error("Give a training budget of 1 hour or more.");
      }
      let iteration = await api.trainProject(project.id, {trainingType: advanced ? "Advanced" : "Regular",
        reservedBudgetInHours: advanced ? hours : 0, forceTrain: force.checked});
      const started = Date.now();
      while (iteration.status === "Training" && !stopped) {
        status.textContent = `${iteration.name}: Training… ${Math.round((Date.now() - started) / 1000)} s`;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        iteration = await api.getIteration(project.id, iteration.id);
      }
      if (iteration.status === "Completed") {
        status.textContent = `${iteration.name}: Completed.`;
        dialog.close();
        location.hash = `#/projects/${encodeURIComponent(project.id)}/performance/${encodeURIComponent(iteration.id)}`;
      } else if (!stopped) {
        status.textContent = "";
        note.error(`${iteration.name} ${iteration.status}: ${iteration.trainingErrorDetails || "no details given"}`);
      }
    });
  });
}
