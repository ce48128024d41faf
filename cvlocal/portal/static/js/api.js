// The Custom Vision training API, called the way the official SDK (azure-cognitiveservices-vision-customvision
// 3.1.1) calls it: same paths, query names, bodies and success codes. The portal has no other data path.
import {session} from "./session.js";

export const TRAINING_ROOT = "/customvision/v3.4-preview/training";
export const MAX_TAKE = 256;        // the SDK refuses take > 256
const MAX_IDS_PER_CALL = 64;        // image ids per tagging call, as the service's batches

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** The service does not serve this operation at all (an unknown route), as opposed to a missing project. */
  get routeMissing() {
    return this.status === 404 && this.code === "NotFound";
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) {
      if (value.length) search.set(name, value.join(","));  // arrays go comma-joined, as msrest sends them
    } else {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function errorFrom(response) {
  let code = "", message = "";
  try {
    const body = await response.json();
    code = body.code || "";
    message = body.message || "";
  } catch {
    // not JSON: say what happened in HTTP terms
  }
  const fallback = `The service answered ${response.status} ${response.statusText}.`;
  return new ApiError(response.status, code, message || fallback);
}

/** One call: the training key goes in the Training-Key header, the JSON or FormData body as given. */
export async function call(method, path, {params, json, form, key} = {}) {
  const headers = {"Training-Key": key ?? session.trainingKey(), Accept: "application/json"};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json; charset=utf-8";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;  // the browser writes the multipart boundary
  }
  let response;
  try {
    response = await fetch(TRAINING_ROOT + path + query(params), {method, headers, body, cache: "no-store",
                                                                  credentials: "omit"});
  } catch {
    throw new ApiError(0, "NetworkError", "The service cannot be reached. Is cvlocal serve still running?");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && key === undefined) onUnauthorized(error);
    throw error;
  }
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

const p = encodeURIComponent;

function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

// Domains and projects
export const getDomains = () => call("GET", "/domains");
export const getProjects = (key) => call("GET", "/projects", {key});
export const getProject = (pid) => call("GET", `/projects/${p(pid)}`);
export const createProject = ({name, description, domainId, classificationType}) =>
  call("POST", "/projects", {params: {name, description, domainId, classificationType}});
export const updateProject = (pid, project) => call("PATCH", `/projects/${p(pid)}`, {json: project});
export const deleteProject = (pid) => call("DELETE", `/projects/${p(pid)}`);

// Tags
export const getTags = (pid, iterationId) => call("GET", `/projects/${p(pid)}/tags`, {params: {iterationId}});
export const createTag = (pid, name) => call("POST", `/projects/${p(pid)}/tags`, {params: {name}});
export const deleteTag = (pid, tagId) => call("DELETE", `/projects/${p(pid)}/tags/${p(tagId)}`);

// Images
export const getImages = (pid, {take, skip, orderBy} = {}) =>
  call("GET", `/projects/${p(pid)}/images`, {params: {take, skip, orderBy}});
export const getTaggedImages = (pid, {tagIds, take, skip, orderBy} = {}) =>
  call("GET", `/projects/${p(pid)}/images/tagged`, {params: {tagIds, take, skip, orderBy}});
export const getUntaggedImages = (pid, {take, skip, orderBy} = {}) =>
  call("GET", `/projects/${p(pid)}/images/untagged`, {params: {take, skip, orderBy}});
export const getImageCount = (pid) => call("GET", `/projects/${p(pid)}/images/count`);
export const getTaggedImageCount = (pid, tagIds) =>
  call("GET", `/projects/${p(pid)}/images/tagged/count`, {params: {tagIds}});
export const getUntaggedImageCount = (pid) => call("GET", `/projects/${p(pid)}/images/untagged/count`);
/** ImageFileCreateBatch: {images: [{name, contents (standard base64)}], tagIds} -> ImageCreateSummary (200 or 207) */
export const createImagesFromFiles = (pid, batch) => call("POST", `/projects/${p(pid)}/images/files`, {json: batch});

export async function deleteImages(pid, imageIds) {
  for (const ids of chunks(imageIds, MAX_TAKE)) {
    await call("DELETE", `/projects/${p(pid)}/images`, {params: {imageIds: ids}});
  }
}

export async function createImageTags(pid, imageIds, tagId) {
  for (const ids of chunks(imageIds, MAX_IDS_PER_CALL)) {
    await call("POST", `/projects/${p(pid)}/images/tags`, {json: {tags: ids.map((imageId) => ({imageId, tagId}))}});
  }
}

export async function deleteImageTags(pid, imageIds, tagIds) {
  for (const ids of chunks(imageIds, MAX_IDS_PER_CALL)) {
    await call("DELETE", `/projects/${p(pid)}/images/tags`, {params: {imageIds: ids, tagIds}});
  }
}

export const getImagesByIds = (pid, imageIds) =>
  call("GET", `/projects/${p(pid)}/images/id`, {params: {imageIds}});

// Regions (object detection): normalised boxes {imageId, tagId, left, top, width, height}, 64 a call
/** -> {created: [ImageRegion with regionId], duplicated: [...], exceeded: [...]} merged over the calls */
export async function createImageRegions(pid, regions) {
  const out = {created: [], duplicated: [], exceeded: []};
  for (const part of chunks(regions, MAX_IDS_PER_CALL)) {
    const answer = await call("POST", `/projects/${p(pid)}/images/regions`, {json: {regions: part}});
    for (const key of Object.keys(out)) out[key].push(...((answer && answer[key]) || []));
  }
  return out;
}

export async function deleteImageRegions(pid, regionIds) {
  for (const ids of chunks(regionIds, MAX_IDS_PER_CALL)) {
    await call("DELETE", `/projects/${p(pid)}/images/regions`, {params: {regionIds: ids}});
  }
}

/** {proposals: [{confidence, boundingBox}]}: where objects may be, from the latest trained iteration. */
export const getImageRegionProposals = (pid, imageId) =>
  call("POST", `/projects/${p(pid)}/images/${p(imageId)}/regionproposals`);

// Training and iterations
export const trainProject = (pid, {trainingType, reservedBudgetInHours, forceTrain}) =>
  call("POST", `/projects/${p(pid)}/train`, {params: {trainingType, reservedBudgetInHours, forceTrain}});
export const getIterations = (pid) => call("GET", `/projects/${p(pid)}/iterations`);
export const getIteration = (pid, iid) => call("GET", `/projects/${p(pid)}/iterations/${p(iid)}`);
export const deleteIteration = (pid, iid) => call("DELETE", `/projects/${p(pid)}/iterations/${p(iid)}`);
/** An object detection iteration's also at an IoU `overlapThreshold` (Azure's default 0.3). */
export const getIterationPerformance = (pid, iid, threshold, overlapThreshold) =>
  call("GET", `/projects/${p(pid)}/iterations/${p(iid)}/performance`, {params: {threshold, overlapThreshold}});
/** [ImagePerformance]: the held-out images with their true tags and the iteration's predictions. */
export const getImagePerformances = (pid, iid, {tagIds, orderBy, take, skip} = {}) =>
  call("GET", `/projects/${p(pid)}/iterations/${p(iid)}/performance/images`, {params: {tagIds, orderBy, take, skip}});
export const getImagePerformanceCount = (pid, iid, tagIds) =>
  call("GET", `/projects/${p(pid)}/iterations/${p(iid)}/performance/images/count`, {params: {tagIds}});
export const publishIteration = (pid, iid, publishName, predictionId) =>
  call("POST", `/projects/${p(pid)}/iterations/${p(iid)}/publish`, {params: {publishName, predictionId}});
export const unpublishIteration = (pid, iid) => call("DELETE", `/projects/${p(pid)}/iterations/${p(iid)}/publish`);
export const exportIteration = (pid, iid, platform, flavor) =>
  call("POST", `/projects/${p(pid)}/iterations/${p(iid)}/export`, {params: {platform, flavor}});
export const getExports = (pid, iid) => call("GET", `/projects/${p(pid)}/iterations/${p(iid)}/export`);

// Quick test and stored predictions
export function quickTestImage(pid, file, {iterationId, store}) {
  const form = new FormData();
  form.append("imageData", file);
  return call("POST", `/projects/${p(pid)}/quicktest/image`, {params: {iterationId, store}, form});
}
export const quickTestImageUrl = (pid, url, {iterationId, store}) =>
  call("POST", `/projects/${p(pid)}/quicktest/url`, {params: {iterationId, store}, json: {url}});
/** PredictionQueryToken {session, continuation, maxCount, orderBy, tags, iterationId} -> PredictionQueryResult */
export const queryPredictions = (pid, token) => call("POST", `/projects/${p(pid)}/predictions/query`, {json: token});
export const deletePrediction = (pid, ids) => call("DELETE", `/projects/${p(pid)}/predictions`, {params: {ids}});
/** ImageIdCreateBatch {images: [{id (a stored prediction's id), tagIds}]} -> ImageCreateSummary */
export const createImagesFromPredictions = (pid, batch) =>
  call("POST", `/projects/${p(pid)}/images/predictions`, {json: batch});

/** Every page of a listing call that takes `take`/`skip`, `MAX_TAKE` at a time. */
export async function all(listing, total) {
  const out = [];
  for (let skip = 0; skip < total; skip += MAX_TAKE) {
    const page = await listing({take: MAX_TAKE, skip});
    out.push(...page);
    if (page.length < MAX_TAKE) break;
  }
  return out;
}
