// Quick Test: an image file or URL against a trained iteration (quick_test_image / quick_test_image_url);
// the predictions with their probabilities, highest first. "Keep" stores it among the project's predictions.
// An object detection iteration's objects are drawn over the image, those at or over the probability threshold
// (a slider: moving it redraws, it asks nothing of the service).
import * as api from "../api.js";
import {fill, h, percent, uid} from "../dom.js";
import {boxedImage, predictedBox} from "../regions/overlay.js";
import {busy, messageArea, openDialog} from "../ui.js";

const DETECTION_THRESHOLD = 50;  // percent, the slider's start

export async function quickTestDialog(project, {detection = false} = {}) {
  const note = messageArea();
  const iterationSelect = h("select", {id: uid("qt-iteration")});
  const url = h("input", {type: "url", id: uid("qt-url"), placeholder: "https://example.com/image.jpg"});
  const testUrl = h("button", {type: "submit"}, "Quick test URL");
  const fileId = uid("qt-file");
  const file = h("input", {type: "file", id: fileId, accept: "image/*,.jpg,.jpeg,.png,.bmp,.gif"});
  const keep = h("input", {type: "checkbox", id: uid("qt-keep"), checked: true});
  const preview = h("div", {class: "preview"});
  const results = h("div", {class: "qt-results"});
  const urlForm = h("form", {class: "inline"}, h("label", {for: url.id}, "Image URL"), url, testUrl);
  openDialog("Quick Test", [
    h("div", {class: "field"}, h("label", {for: iterationSelect.id}, "Iteration"), iterationSelect),
    urlForm,
    h("p", {class: "or"}, "or"),
    h("div", {class: "field"}, h("label", {for: fileId, class: "button"}, "Browse local files"), file),
    h("div", {class: "choice"}, keep, h("label", {for: keep.id}, "Keep the image among the project's predictions")),
    note.el, preview, results,
  ], {wide: true});

  const options = () => ({iterationId: iterationSelect.value, store: keep.checked});
  const slider = h("input", {type: "range", id: uid("qt-threshold"), min: 0, max: 100, step: 1,
                            value: DETECTION_THRESHOLD});
  const sliderValue = h("output", {for: slider.id}, `${DETECTION_THRESHOLD}%`);
  const sliderRow = h("div", {class: "threshold", hidden: true},
                      h("label", {for: slider.id}, "Probability threshold"), slider, sliderValue);
  let shownImage = null;   // the image tested: a file's object URL or the URL
  let objects = [];
  slider.addEventListener("input", () => {
    sliderValue.textContent = `${slider.value}%`;
    drawObjects();
  });
  results.before(sliderRow);

  urlForm.addEventListener("submit", (event) => {
    event.preventDefault();
    fill(preview);
    shownImage = url.value.trim();
    run(testUrl, () => api.quickTestImageUrl(project.id, url.value.trim(), options()));
  });
  file.addEventListener("change", () => {
    const chosen = file.files[0];
    if (!chosen) return;
    const objectUrl = URL.createObjectURL(chosen);
    shownImage = objectUrl;
    fill(preview, h("img", {src: objectUrl, alt: `The image tested: ${chosen.name}`,
                            onload: () => { if (!detection) URL.revokeObjectURL(objectUrl); }}));
    run(null, () => api.quickTestImage(project.id, chosen, options()));
  });

  // The listeners are in place before the first await: a file chosen while the iterations load still counts.
  const loading = (async () => {
    try {
      const iterations = (await api.getIterations(project.id)).filter((i) => i.status === "Completed");
      fill(iterationSelect, iterations.map((i) => h("option", {value: i.id},
        i.publishName ? `${i.name} (published as ${i.publishName})` : i.name)));
      if (!iterations.length) note.error("No trained iteration yet: train the project first.");
    } catch (error) {
      note.error(error);
    }
  })();

  function run(button, work) {
    fill(results, h("p", {role: "status"}, "Predicting…"));
    busy(button, note, async () => {
      try {
        await loading;  // so the request names the iteration shown as selected
        const answer = await work();
        const predictions = [...(answer.predictions || [])].sort((a, b) => b.probability - a.probability);
        if (detection) {
          objects = predictions;
          drawObjects();
          return;
        }
        fill(results, h("table", {class: "predictions"}, h("caption", {}, "Predictions"),
          h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Tag"), h("th", {scope: "col"}, "Probability"))),
          h("tbody", {}, predictions.map((p) => h("tr", {}, h("th", {scope: "row"}, p.tagName),
                                                        h("td", {}, percent(p.probability)))))));
      } catch (error) {
        fill(results);
        throw error;
      }
    });
  }

  /** The detected objects at or over the threshold: boxes on the image and a table. */
  function drawObjects() {
    const threshold = Number(slider.value) / 100;
    const shown = objects.filter((p) => p.probability >= threshold);
    sliderRow.hidden = false;
    fill(preview, boxedImage(h("img", {src: shownImage, alt: `The image tested, with ${shown.length} detected `
                                                                + `object${shown.length === 1 ? "" : "s"} outlined`}),
                             shown.map(predictedBox)));
    fill(results, h("table", {class: "predictions"},
      h("caption", {}, `Detected objects: ${shown.length} at or over ${slider.value}% (of ${objects.length})`),
      h("thead", {}, h("tr", {}, ["Tag", "Probability", "Left", "Top", "Width", "Height"]
        .map((c) => h("th", {scope: "col"}, c)))),
      h("tbody", {}, shown.map((p) => h("tr", {}, h("th", {scope: "row"}, p.tagName), h("td", {}, percent(p.probability)),
        ["left", "top", "width", "height"].map((k) => h("td", {}, percent(p.boundingBox[k]))))))));
  }
}
