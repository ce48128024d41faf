// Sign in with the training key: checked against the service (GET /projects) before it is kept for this tab.
import {getProjects} from "../api.js";
import {field, fill, h} from "../dom.js";
import {session} from "../session.js";
import {busy, messageArea} from "../ui.js";

export function renderSignIn(main, {message = "", onSignedIn}) {
  document.title = "Sign in · Custom Vision portal";
  const trainingKey = h("input", {type: "password", name: "training-key", autocomplete: "off", required: true,
                                  spellcheck: false});
  const predictionKey = h("input", {type: "password", name: "prediction-key", autocomplete: "off",
                                    spellcheck: false});
  const submit = h("button", {type: "submit", class: "primary"}, "Sign in");
  const note = messageArea();
  const form = h("form", {class: "card narrow", "aria-labelledby": "signin-title"},
    h("h1", {id: "signin-title"}, "Sign in to Custom Vision"),
    h("p", {}, "Use the training key that cvlocal serve printed (or CUSTOM_VISION_TRAINING_KEY). It is kept in this " +
               "browser tab only and sent to the service in the Training-Key header."),
    field("Training key", trainingKey),
    field("Prediction key (optional)", predictionKey,
          "Shown in the Prediction URL dialog, as the Azure portal does. The portal makes no prediction calls."),
    note.el,
    h("div", {class: "actions"}, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = trainingKey.value.trim();
    if (!key) {
      note.error("Enter the training key.");
      trainingKey.focus();
      return;
    }
    busy(submit, note, async () => {
      await getProjects(key);  // throws the service's message on a wrong key; nothing is kept then
      session.signIn(key, predictionKey.value.trim());
      trainingKey.value = "";
      predictionKey.value = "";
      onSignedIn();
    });
  });
  fill(main, form);
  if (message) note.error(message);
  trainingKey.focus();
}
