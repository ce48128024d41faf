// Runs a Custom Vision TensorFlow.js export as Microsoft's library runs it: node tfjs_classify.js MODEL_DIR IMAGE...
// Each IMAGE is a photo's decoded pixels (int32 height, int32 width, then RGBA bytes), handed to the library's
// ClassificationModel.executeAsync as a browser hands it an <img> (tf.browser.fromPixels reads such pixel data):
// the library crops the centre square, resizes it to the model's input, orders the channels and runs the model.
// Prints a JSON list: each photo's result (the library returns the model's output as arrays).
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const cvstfjs = require('@microsoft/customvision-tfjs');

// The model's files as tf.loadGraphModel reads them over HTTP (model.json, then the shards it names).
function modelFiles(dir) {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json')));
      const specs = [];
      const shards = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
      }
      const data = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology, weightSpecs: specs, format: json.format,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
        generatedBy: json.generatedBy, convertedBy: json.convertedBy, userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

(async () => {
  const [dir, ...images] = process.argv.slice(2);
  wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
  await tf.setBackend('wasm');
  const model = new cvstfjs.ClassificationModel();
  await model.loadModelAsync(modelFiles(dir));
  const results = [];
  for (const image of images) {
    const raw = fs.readFileSync(image);
    const height = raw.readInt32LE(0);
    const width = raw.readInt32LE(4);
    const data = new Uint8Array(raw.buffer, raw.byteOffset + 8, height * width * 4);
    results.push(await model.executeAsync({data, width, height}));
  }
  process.stdout.write(JSON.stringify(results));
})().catch((error) => { console.error(error); process.exit(1); });
