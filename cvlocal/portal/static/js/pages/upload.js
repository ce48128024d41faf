// Upload images by file picker or drag and drop: tags chosen for the batch, sent in batches of at most 64 files
// (create_images_from_files, base64 JSON as the SDK sends it), and Custom Vision's result shown for every file.
import * as api from "../api.js";
import {fill, formatBytes, h, uid} from "../dom.js";
import {busy, messageArea, openDialog} from "../ui.js";

const MAX_FILES_PER_BATCH = 64;              // Custom Vision's batch limit
const MAX_BYTES_PER_BATCH = 24 * 1024 * 1024; // keeps each request (and its progress step) a few seconds long

// Custom Vision's per-image statuses, in words.
const STATUS_WORDS = {
  OK: "Uploaded",
  OKDuplicate: "Duplicate: already in the project",
  ErrorImageFormat: "Bad format: not an image Custom Vision reads",
  ErrorImageSize: "Too big",
  ErrorSource: "Could not be read",
  ErrorStorage: "Could not be stored",
  ErrorLimitExceed: "Over the project's image limit",
  ErrorTagLimitExceed: "Too many tags",
  ErrorRegionLimitExceed: "Too many regions",
  ErrorNegativeAndRegularTagOnSameImage: "Negative and regular tags together",
};

export function batches(files) {
  const out = [];
  let current = [], bytes = 0;
  for (const file of files) {
    if (current.length && (current.length >= MAX_FILES_PER_BATCH || bytes + file.size > MAX_BYTES_PER_BATCH)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length) out.push(current);
  return out;
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error(`${file.name} could not be read by the browser.`));
    reader.readAsDataURL(file);
  });
}

/** On an object detection project images go up without tags: they are tagged by the boxes drawn on them. */
export function uploadDialog(project, tags, onDone, {detection = false} = {}) {
  let files = [];
  let uploaded = false;
  const note = messageArea();
  const inputId = uid("files");
  const picker = h("input", {type: "file", id: inputId, multiple: true, accept: "image/*,.jpg,.jpeg,.png,.bmp,.gif",
                             onchange: () => choose([...picker.files])});
  const chosen = h("p", {class: "chosen", role: "status"}, "No files chosen.");
  const dropZone = h("div", {class: "dropzone", "aria-label": "Drop images here", role: "group"},
    h("p", {}, "Drag and drop images here, or"),
    h("label", {for: inputId, class: "button"}, "Browse local files"), picker, chosen);
  dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropZone.classList.add("over");
  });
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("over");
    choose([...(event.dataTransfer?.files || [])]);
  });

  const tagBoxes = h("ul", {class: "tag-choices"});
  const tagInputs = new Map();
  function addTagChoice(tag, checked) {
    const id = uid("batch-tag");
    const box = h("input", {type: "checkbox", id, value: tag.id, checked});
    tagInputs.set(tag.id, box);
    tagBoxes.append(h("li", {}, box, h("label", {for: id}, tag.name)));
  }
  tags.forEach((t) => addTagChoice(t, false));
  const newTag = h("input", {type: "text", id: uid("batch-new-tag"), maxLength: 100});
  const addTag = h("button", {type: "button", onclick: () => busy(addTag, note, async () => {
    const name = newTag.value.trim();
    if (!name) throw new Error("Type the new tag's name first.");
    const existing = [...tagInputs.keys()].map((id) => tags.find((t) => t.id === id)).find((t) => t && t.name === name);
    if (existing) {
      tagInputs.get(existing.id).checked = true;
    } else {
      const tag = await api.createTag(project.id, name);
      tags.push(tag);
      addTagChoice(tag, true);
    }
    newTag.value = "";
    newTag.focus();
  })}, "Add tag");
  newTag.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      addTag.click();
    }
  });

  const progress = h("progress", {max: 1, value: 0, hidden: true, "aria-label": "Upload progress"});
  const progressText = h("p", {role: "status", class: "progress-text"});
  const results = h("table", {class: "results", hidden: true},
    h("caption", {}, "Upload results"),
    h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "File"), h("th", {scope: "col"}, "Result"),
                             h("th", {scope: "col"}, "Status"))),
    h("tbody", {}));
  const upload = h("button", {type: "button", class: "primary", disabled: true, onclick: () => run()},
                   "Upload files");
  const close = h("button", {type: "button", onclick: () => dialog.close()}, "Close");

  const dialog = openDialog("Image upload", [
    dropZone,
    detection ? h("p", {class: "hint"}, "Object detection: the images are tagged by the boxes you draw on them "
                                        + "after the upload (open an image on the Training Images page).")
              : h("fieldset", {}, h("legend", {}, "My tags (for every image of this batch)"), tagBoxes,
                  h("div", {class: "inline"}, h("label", {for: newTag.id}, "New tag"), newTag, addTag)),
    note.el, progress, progressText, results,
    h("div", {class: "actions"}, close, upload),
  ], {wide: true, onClose: () => { if (uploaded) onDone(); }});

  function choose(list) {
    files = list;
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    const counted = `${files.length} file${files.length === 1 ? "" : "s"}`;
    chosen.textContent = files.length ? `${counted} chosen (${formatBytes(bytes)})` : "No files chosen.";
    upload.textContent = files.length ? `Upload ${counted}` : "Upload files";
    upload.disabled = !files.length;
  }

  async function run() {
    const tagIds = detection ? [] : [...tagInputs.entries()].filter(([, box]) => box.checked).map(([id]) => id);
    const groups = batches(files);
    const body = results.tBodies[0];
    fill(body);
    results.hidden = false;
    progress.hidden = false;
    progress.max = groups.length;
    progress.value = 0;
    const counts = {ok: 0, duplicate: 0, refused: 0};
    await busy(upload, note, async () => {
      for (const [index, group] of groups.entries()) {
        progressText.textContent = `Uploading batch ${index + 1} of ${groups.length} (${group.length} files)…`;
        const images = await Promise.all(group.map(async (f) => ({name: f.name, contents: await base64Of(f)})));
        let summary;
        try {
          summary = await api.createImagesFromFiles(project.id, {images, tagIds});
        } catch (error) {  // the whole batch refused (e.g. too many tags): every file gets the service's words
          const status = error.code || "Error";
          summary = {images: group.map((f) => ({sourceUrl: f.name, status, message: error.message}))};
        }
        uploaded = true;
        (summary.images || []).forEach((result, i) => {
          const status = result.status || "";
          if (status === "OK") counts.ok += 1;
          else if (status === "OKDuplicate") counts.duplicate += 1;
          else counts.refused += 1;
          const words = STATUS_WORDS[status] || status;
          const detail = result.message ? `${words}. ${result.message}` : words;
          body.append(h("tr", {class: status.startsWith("OK") ? "ok" : "refused"},
            h("td", {}, result.sourceUrl || group[i]?.name || ""), h("td", {}, detail),
            h("td", {}, h("code", {}, status))));
        });
        progress.value = index + 1;
      }
      progressText.textContent =
        `Done: ${counts.ok} uploaded, ${counts.duplicate} duplicate, ${counts.refused} refused.`;
      choose([]);
      picker.value = "";
    });
  }
}
