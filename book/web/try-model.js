// "Try the model": the published int8 model classifies a photo inside the reader's browser.
//
// Runs LiteRT.js (@litertjs/core, WebAssembly + XNNPACK) on the very .tflite file published in
// models/; the photo never leaves the page. Every build of the book (book/_ext/try_model_page.py) copies this file, the
// runtime, the model and try-model.json (input quantization, out-of-distribution threshold,
// sample images) into _static/try-model/ of the built book (catsdogs/report/web.py).
//
// Preprocessing is Python's `catsdogs.data.images.read_image_file` followed by the TFLite predictor:
//   1. decode the file to 8-bit RGB (no colour management, alpha dropped; as Pillow's convert("RGB"));
//   2. resize to S x S with TensorFlow's `tf.image.resize(method="bilinear", antialias=True)`;
//   3. clip to [0, 255], quantize with the input tensor's scale and zero point (round half to even
//      as numpy does, clip to uint8);
//   4. run the model; its output is the logit, P(dog) = sigmoid(logit);
//   5. confidence = max(P, 1 - P); "unsure" when confidence < the model's ood_threshold.
// Standards-only JavaScript (ES modules, import maps, createImageBitmap, canvas 2D, WebAssembly);
// tested in headless Chromium, untested in Firefox and Safari.

const HERE = new URL("./", import.meta.url);

// ----------------------------------------------------------------------------- preprocessing

// TensorFlow's antialiased bilinear resize (the ScaleAndTranslate op with a triangle kernel),
// written here because no browser API or library reproduces it: canvas drawImage scaling is
// implementation-defined (and differs between browsers). It has to be bit-exact, not merely
// close: the int8 model is so sensitive that one input pixel rounded the other way (a float32
// ulp at x.5) can move its logit by several quantization steps, about 0.05 in P(dog) near 0.5.
// So every product and sum is rounded to float32 (Math.fround) in TensorFlow's order.
// For one axis: the input pixels each output pixel reads and their weights.
function resizeSpans(inSize, outSize) {
  const f = Math.fround;
  const scale = f(outSize / inSize);
  const invScale = f(1 / scale);
  const kernelScale = Math.max(invScale, 1); // antialias: widen the kernel when shrinking
  const radius = f(1 * kernelScale); // the triangle kernel has radius 1
  const spanSize = Math.min(2 * Math.ceil(radius) + 1, inSize);
  const invKernelScale = f(1 / kernelScale);
  const starts = new Int32Array(outSize);
  const weights = new Float32Array(spanSize * outSize);
  for (let x = 0; x < outSize; x++) {
    const sample = f(f(x + 0.5) * invScale);
    if (sample < 0 || sample > inSize) continue;
    const first = Math.min(Math.max(Math.ceil(f(f(sample - radius) - 0.5)), 0), inSize - 1);
    const end = Math.min(Math.max(Math.floor(f(f(sample + radius) - 0.5)), 0), inSize - 1) + 1;
    let total = 0;
    const w = [];
    for (let src = first; src < end; src++) {
      const d = Math.abs(f(f(f(src + 0.5) - sample) * invKernelScale));
      const weight = d < 1 ? f(1 - d) : 0;
      total = f(total + weight);
      w.push(weight);
    }
    if (Math.abs(total) >= 1000 * 1.1754943508222875e-38) {
      const inv = f(1 / total);
      w.forEach((weight, j) => { weights[x * spanSize + j] = f(weight * inv); });
    }
    starts[x] = first;
  }
  return { starts, weights, spanSize };
}

// RGBA bytes (width x height) -> float32 RGB (size x size x 3) in [0, 255]: rows first, then
// columns, as TensorFlow does; equal to tf.image.resize bit for bit (tests/test_browser.py).
export function resizeLikeTensorFlow(rgba, width, height, size) {
  const f = Math.fround;
  const rows = resizeSpans(height, size);
  const cols = resizeSpans(width, size);
  const mid = new Float32Array(size * width * 3);
  for (let y = 0; y < size; y++) {
    const start = rows.starts[y];
    const taps = Math.min(start + rows.spanSize, height) - start;
    const o = y * width * 3;
    for (let j = 0; j < taps; j++) {
      const w = rows.weights[y * rows.spanSize + j];
      const i = (start + j) * width * 4;
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) mid[o + x * 3 + c] = f(mid[o + x * 3 + c] + f(w * rgba[i + x * 4 + c]));
      }
    }
  }
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const start = cols.starts[x];
      const taps = Math.min(start + cols.spanSize, width) - start;
      const o = (y * size + x) * 3;
      for (let j = 0; j < taps; j++) {
        const w = cols.weights[x * cols.spanSize + j];
        const i = (y * width + start + j) * 3;
        for (let c = 0; c < 3; c++) out[o + c] = f(out[o + c] + f(w * mid[i + c]));
      }
    }
  }
  return out;
}

function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Float [0, 255] -> the model's uint8 input: clip, then q = round(v / scale + zero_point), clipped
// (float32 arithmetic, as NumPy does on the float32 image).
export function quantize(values, { scale, zero_point: zero }) {
  const f = Math.fround;
  const q = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(Math.max(values[i], 0), 255);
    q[i] = Math.min(Math.max(roundHalfEven(f(f(v / scale) + zero)), 0), 255);
  }
  return q;
}

// A file or blob -> RGBA bytes of its first frame, as decoded (no colour-profile conversion).
export async function decode(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

// ----------------------------------------------------------------------------- the model

// One line of LiteRT's own log: "INFO: ..." to console.debug, "WARNING: ..." to console.warn,
// anything else (a real error) to console.error.
function logRuntimeLine(line) {
  if (line.startsWith("INFO:")) console.debug(line);
  else if (line.startsWith("WARNING:")) console.warn(line);
  else console.error(line);
}

class Classifier {
  constructor(litert, model, record, build, threads) {
    this.litert = litert;
    this.model = model;
    this.record = record;
    this.build = build;
    this.threads = threads;
  }

  // LiteRT.js picks its relaxed-SIMD WebAssembly build where the browser supports it, else the
  // compatible one; `?wasm=compat` in the page's address forces the compatible build (the browser
  // test checks both give Python's answers).
  // Threads need SharedArrayBuffer, which browsers give only to a cross-origin isolated page: a
  // server sending the COOP/COEP headers, or, on a static host such as GitHub Pages, the
  // coi-serviceworker worker that try.md registers for itself and these files. There LiteRT.js
  // loads its threaded build and runs on every core (one thread if that build fails to load);
  // elsewhere on one thread. `?threads=1` forces one thread (the browser bench measures both).
  static async load(record) {
    const litert = await import("@litertjs/core");
    const params = new URLSearchParams(location.search);
    const forceCompat = params.get("wasm") === "compat";
    const build = forceCompat || !(await litert.supportsFeature("relaxedSimd")) ? "compat" : "relaxed_simd";
    let threaded = build === "relaxed_simd" && params.get("threads") !== "1" && self.crossOriginIsolated === true &&
      navigator.hardwareConcurrency > 1 && (await litert.supportsFeature("threads"));
    const wasm = new URL(forceCompat ? "litertjs/core/wasm/litert_wasm_compat_internal.js" : "litertjs/core/wasm/", HERE).href;
    // The runtime writes its log (INFO and WARNING lines) to stderr, which Emscripten sends to
    // console.error; the module settings it reads from `self.Module` route each line by level.
    self.Module = { printErr: logRuntimeLine };
    try {
      await litert.loadLiteRt(wasm, threaded ? { threads: true } : undefined);
    } catch (err) {
      if (!threaded) throw err;
      console.warn("LiteRT.js's threaded build did not load; running on one thread:", err);
      threaded = false;
      self.Module = { printErr: logRuntimeLine };
      await litert.loadLiteRt(wasm);
    }
    const threads = threaded ? navigator.hardwareConcurrency : 1;
    const model = await litert.loadAndCompile(new URL(record.file, HERE).href,
      { accelerator: "wasm", ...(threaded ? { cpuOptions: { numThreads: threads } } : {}) });
    const classifier = new Classifier(litert, model, record, threaded ? "threaded" : build, threads);
    await classifier.infer(new Uint8Array(record.image_size * record.image_size * 3)); // warm-up run
    return classifier;
  }

  // uint8 input (1 x S x S x 3) -> the model's output, dequantized: the logit.
  async infer(input) {
    const size = this.record.image_size;
    const tensor = new this.litert.Tensor(input, [1, size, size, 3]);
    const outputs = await this.model.run(tensor);
    let logit = outputs[0].toTypedArray()[0];
    tensor.delete();
    outputs.forEach((t) => t.delete());
    const { scale, zero_point: zero, dtype } = this.record.output;
    if (dtype !== "float32" && scale) logit = (logit - zero) * scale;
    return logit;
  }

  // blob -> {label, probDog, confidence, unsure, logit, inferenceMs, preprocessMs}
  async classify(blob) {
    const t0 = performance.now();
    const { data, width, height } = await decode(blob);
    const size = this.record.image_size;
    const input = quantize(resizeLikeTensorFlow(data, width, height, size), this.record.input);
    const t1 = performance.now();
    const logit = await this.infer(input);
    const t2 = performance.now();
    const probDog = 1 / (1 + Math.exp(-logit));
    const confidence = Math.max(probDog, 1 - probDog);
    return {
      label: probDog >= 0.5 ? "dog" : "cat",
      probDog, confidence, logit,
      unsure: confidence < this.record.ood_threshold,
      preprocessMs: t1 - t0,
      inferenceMs: t2 - t1,
    };
  }
}

// ----------------------------------------------------------------------------- the page

function el(id) {
  return document.getElementById(id);
}

function setStatus(text, kind = "") {
  const status = el("try-status");
  status.textContent = text;
  status.className = `try-status ${kind}`;
}

function unsupported() {
  if (typeof WebAssembly !== "object") return "this browser has no WebAssembly";
  if (typeof createImageBitmap !== "function") return "this browser has no createImageBitmap";
  if (!HTMLScriptElement.supports?.("importmap")) return "this browser does not support import maps";
  return null;
}

function show(result, name) {
  const box = el("try-result");
  const pct = (100 * result.probDog).toFixed(1);
  el("try-label").textContent = result.label;
  const p = result.probDog;
  el("try-prob").textContent = p < 0.001 ? "< 0.001" : p > 0.999 ? "> 0.999" : `= ${p.toFixed(3)}`;
  el("try-bar-fill").style.width = `${pct}%`;
  el("try-bar").setAttribute("aria-valuenow", pct);
  el("try-unsure").hidden = !result.unsure;
  el("try-time").textContent =
    `${result.inferenceMs.toFixed(1)} ms inference + ${result.preprocessMs.toFixed(1)} ms decoding and resizing`;
  el("try-name").textContent = name;
  el("try-message").hidden = true;
  delete box.dataset.error;
  // Full precision for the browser test (tests/test_browser.py) and anyone curious.
  Object.assign(box.dataset, {
    label: result.label, probDog: String(result.probDog), logit: String(result.logit),
    unsure: String(result.unsure), inferenceMs: String(result.inferenceMs),
    preprocessMs: String(result.preprocessMs), count: String(Number(box.dataset.count || 0) + 1),
  });
  box.hidden = false;
}

// The browser test's recorded figures for this very model file (results/<run>/web/browser_bench.json).
function showChecked(c) {
  const box = el("try-checked");
  box.textContent =
    `Checked against Python (tests/test_browser.py, headless Chromium ${c.browser_version}): on ` +
    `${c.images} validation images the page and Python's LiteRT interpreter gave the same label ` +
    `${c.labels_agree} times; ` +
    (c.max_abs_dp === 0 ? "P(dog) was identical. Median " : `P(dog) differed by at most ${c.max_abs_dp.toPrecision(2)}. Median `) +
    `inference: ${c.browser_ms_median.toFixed(1)} ms here` +
    (c.browser_threads > 1 ? ` on ${c.browser_threads} threads (${c.browser_1_thread_ms_median.toFixed(1)} ms on one)` : "") +
    ` against ${c.python_ms_median.toFixed(1)} ms in Python on the same machine (browser / Python: ` +
    `${c.ratio.toFixed(2)}).`;
  box.hidden = false;
}

function showError(message) {
  const box = el("try-result");
  box.dataset.error = message;
  box.dataset.count = String(Number(box.dataset.count || 0) + 1);
  box.hidden = true;
  el("try-message").textContent = message;
  el("try-message").hidden = false;
}

async function main() {
  const problem = unsupported();
  if (problem) {
    setStatus(`Your browser cannot run the model here: ${problem}. Current Chromium, Firefox or Safari can.`,
              "try-error");
    return;
  }
  setStatus("Loading the model and the LiteRT.js runtime…");
  let page, classifier;
  try {
    const response = await fetch(new URL("try-model.json", HERE));
    if (!response.ok) throw new Error(`try-model.json: HTTP ${response.status}`);
    page = await response.json();
    classifier = await Classifier.load(page.model);
  } catch (err) {
    setStatus(`The model could not be loaded in this browser (${err.message || err}). ` +
              "The page needs WebAssembly and the files every build of the book copies into it.",
              "try-error");
    return;
  }
  const m = page.model;
  const build = classifier.build;
  const mb = (bytes) => (bytes / 1e6).toFixed(1);
  const builds = { compat: "compatible", relaxed_simd: "relaxed-SIMD", threaded: "relaxed-SIMD, threaded" };
  const threads = classifier.threads === 1 ? "1 thread" : `${classifier.threads} threads`;
  setStatus(`Ready: ${m.file} (${mb(m.bytes)} MB, int8) runs in this page with LiteRT.js ` +
            `${page.runtime["@litertjs/core"]} on WebAssembly (${builds[build]} build, ${threads}; ` +
            `${mb(page.download_bytes[build])} MB downloaded for this page). "Unsure" means a ` +
            `confidence below ${m.ood_threshold.toFixed(3)}.`, "try-ready");
  Object.assign(el("try-root").dataset, { ready: "true", wasmBuild: build, threads: classifier.threads });
  if (page.checked) showChecked(page.checked);

  // One photo at a time, in the order chosen.
  let queue = Promise.resolve();
  const preview = el("try-preview");
  const run = (blob, name, previewUrl) => {
    queue = queue.then(async () => {
      if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
      preview.src = previewUrl;
      try {
        show(await classifier.classify(blob), name);
      } catch (err) {
        showError(`Could not read ${name}: ${err.message || err}. Try a JPEG, PNG, GIF or WebP photo.`);
      }
    });
    return queue;
  };
  const runFile = (file) => run(file, file.name, URL.createObjectURL(file));

  const input = el("try-file");
  input.addEventListener("change", () => {
    for (const file of input.files) runFile(file);
  });
  const drop = el("try-drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("try-over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("try-over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("try-over");
    for (const file of e.dataTransfer.files) runFile(file);
  });

  const samples = el("try-samples");
  for (const sample of page.samples) {
    const url = new URL(sample.file, HERE).href;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "try-sample";
    button.title = `a validation image labelled ${sample.label}`;
    const img = document.createElement("img");
    img.src = url;
    img.alt = `validation image labelled ${sample.label}`;
    button.append(img);
    button.addEventListener("click", async () => {
      const blob = await (await fetch(url)).blob();
      run(blob, `${sample.file.split("/").pop()} (labelled ${sample.label})`, url);
    });
    samples.append(button);
  }
  el("try-samples-box").hidden = page.samples.length === 0;
  input.disabled = false;
}

main();
