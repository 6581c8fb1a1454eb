// End-to-end test of the built page (dist/) in real headless Chromium, twice:
//   webgpu  — WebGPU in software (SwiftShader Vulkan); the compute worker picks ndarray on a
//             software adapter, and burn on wgpu is checked there with ?compute=wgpu;
//   webgl2  — no WebGPU adapter: eframe falls back to WebGL2, burn to ndarray.
// Asserts: no console errors or panics, a non-blank canvas, the expected backends through
// window.poslens.status(), burn's softmax row matching the CPU, and that dragging the
// sequence-length slider changes both the state and the picture. Screenshots → artifacts/.
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { HOSTILE_LINKS, ROOT, WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const ART = path.join(ROOT, 'artifacts');
const READY_TIMEOUT_MS = 180_000;
const MODES = {
  // SwiftShader's WebGPU is a software renderer: the compute worker chooses ndarray there (the
  // page still renders with WebGPU); burn's wgpu path is checked on it with ?compute=wgpu below.
  webgpu: { args: WEBGPU_ARGS,
            render: 'webgpu', compute: 'ndarray', engine: 'gpu' },
  webgl2: { args: [], render: 'webgl2', compute: 'ndarray', engine: 'cpu' },
};
function pngStats(buf) {
  const png = PNG.sync.read(buf);
  let sum = 0, sum2 = 0; const n = png.width * png.height;
  for (let i = 0; i < png.data.length; i += 4) {
    const l = 0.2126 * png.data[i] + 0.7152 * png.data[i + 1] + 0.0722 * png.data[i + 2];
    sum += l; sum2 += l * l;
  }
  const mean = sum / n;
  return { png, std: Math.sqrt(Math.max(0, sum2 / n - mean * mean)) };
}

function changedFraction(a, b) {
  if (a.width !== b.width || a.height !== b.height) return 1;
  let changed = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    const d = Math.abs(a.data[i] - b.data[i]) + Math.abs(a.data[i + 1] - b.data[i + 1]) + Math.abs(a.data[i + 2] - b.data[i + 2]);
    if (d > 30) changed++;
  }
  return changed / (a.width * a.height);
}

const failures = [];
function check(cond, what) { console.log(`  ${cond ? 'ok  ' : 'FAIL'} ${what}`); if (!cond) failures.push(what); }

async function runMode(name, mode, base) {
  console.log(`\n== ${name}: ${mode.args.join(' ') || '(no GPU flags)'}`);
  // Playwright's launch() always starts from a fresh, temporary user-data-dir.
  const browser = await launchChromium(mode.args);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    if (name === 'webgpu') {
      // Keep a handle on the page's GPU devices, so the test can lose one (device.destroy()).
      await page.addInitScript(() => {
        if (!self.GPUAdapter) return;
        const request = GPUAdapter.prototype.requestDevice;
        GPUAdapter.prototype.requestDevice = async function (...args) {
          const device = await request.apply(this, args);
          (self.__poslensGpuDevices ||= []).push(device);
          return device;
        };
      });
    }
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    // First load: the Attention view draws without the compute worker (no burn downloaded).
    const workerFetches = [];
    page.on('request', (r) => { if (r.url().includes('poslens-worker')) workerFetches.push(r.url()); });
    let t0 = Date.now();
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.poslens && window.poslens.status().ready === true && window.poslens.status().heatmap_engine !== '', null, { timeout: READY_TIMEOUT_MS, polling: 250 });
    console.log(`  first view ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await page.waitForTimeout(500);
    const s0 = await page.evaluate(() => window.poslens.status());
    check(s0.view === 'attention' && s0.errors.length === 0, `the first view (${s0.view}) draws from ${base}/ without errors`);
    check(workerFetches.length === 0 && s0.compute_backend === 'not loaded', `the first view loads no compute worker (${s0.compute_backend}, ${workerFetches.length} worker fetches)`);
    t0 = Date.now();
    await page.goto(`${base}/#view=sinusoidal&len=64&d=128&q=32`);
    await page.waitForFunction(() => window.poslens && window.poslens.status().ready === true && window.poslens.status().compute_check, null, { timeout: READY_TIMEOUT_MS, polling: 250 });
    console.log(`  compute worker ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await page.waitForTimeout(500);
    const s1 = await page.evaluate(() => window.poslens.status());
    check(workerFetches.some((u) => u.endsWith('.wasm') || u.includes('_bg.wasm')), `the Sinusoidal view's burn row fetched the compute worker (${workerFetches.map((u) => u.replace(base, '')).join(', ')})`);
    console.log(`  status: ${JSON.stringify({ ...s1, controls: undefined })}`);
    check(s1.view === 'sinusoidal', `view is sinusoidal (${s1.view})`);
    check(s1.render_backend === mode.render, `render backend ${mode.render} (${s1.render_backend})`);
    check(s1.compute_backend === mode.compute, `compute backend ${mode.compute} (${s1.compute_backend})`);
    check(s1.seq_len === 64, `seq_len from the URL is 64 (${s1.seq_len})`);
    check(typeof s1.frame_ms === 'number' && s1.frames > 0, `frames drawn (${s1.frames}), frame_ms ${s1.frame_ms}`);
    check(s1.compute_check && s1.compute_check.passed === true, `burn softmax row matches CPU (max|Δ| ${s1.compute_check && s1.compute_check.max_abs_diff})`);
    const shot1 = await page.screenshot({ path: path.join(ART, `e2e-${name}-len64.png`) });
    const st1 = pngStats(shot1);
    check(st1.std > 20, `canvas is not blank (luminance std ${st1.std.toFixed(1)})`);

    // Drag the sequence-length slider with the real mouse: from its left end to its right part.
    const r = s1.controls && s1.controls.seq_len;
    check(Array.isArray(r), 'status reports the seq_len slider rectangle');
    if (Array.isArray(r)) {
      const [x, y, , h] = r; const cy = y + h / 2;
      await page.mouse.move(x + 3, cy); await page.mouse.down();
      for (let i = 1; i <= 10; i++) { await page.mouse.move(x + 3 + i * 7, cy); await page.waitForTimeout(30); }
      await page.mouse.up();
      await page.waitForFunction((n) => window.poslens.status().seq_len !== n && window.poslens.status().ready, s1.seq_len, { timeout: 60_000 });
      await page.waitForTimeout(800);
      const s2 = await page.evaluate(() => window.poslens.status());
      check(s2.seq_len > s1.seq_len, `dragging the slider raised seq_len ${s1.seq_len} → ${s2.seq_len}`);
      const shot2 = await page.screenshot({ path: path.join(ART, `e2e-${name}-dragged.png`) });
      const frac = changedFraction(st1.png, pngStats(shot2).png);
      check(frac > 0.05, `the picture changed after the drag (${(frac * 100).toFixed(1)} % of pixels)`);
      check(s2.errors.length === 0, `no app errors (${JSON.stringify(s2.errors)})`);
      await page.waitForFunction((n) => { const s = window.poslens.status(); return s.burn_row && s.burn_row.seq_len === n; }, s2.seq_len, { timeout: 60_000 }).catch(() => {});
      const s3 = await page.evaluate(() => window.poslens.status());
      check(s3.burn_row && s3.burn_row.passed === true && s3.burn_row.seq_len === s2.seq_len, `the view's burn row matches the CPU at N=${s2.seq_len} (${JSON.stringify(s3.burn_row)})`);
    }
    // Keyboard: click empty canvas space (drops slider focus), then ] → next view, → doubles N.
    await page.mouse.click(1200, 30);
    const before = await page.evaluate(() => window.poslens.status());
    await page.keyboard.press('BracketRight');
    // Wait for the frame that reads the key (SwiftShader frames can be slow on two cores).
    await page.waitForFunction((v) => window.poslens.status().view !== v, before.view, { timeout: 5_000, polling: 100 }).catch(() => {});
    const afterView = await page.evaluate(() => window.poslens.status());
    check(afterView.view !== before.view, `] switches the view (${before.view} → ${afterView.view})`);
    const len0 = afterView.seq_len;
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((n) => window.poslens.status().seq_len !== n, len0, { timeout: 5_000, polling: 100 }).catch(() => {});
    const len1 = (await page.evaluate(() => window.poslens.status())).seq_len;
    check(len1 === Math.min(len0 * 2, 8192) && len1 !== len0, `→ doubles the length (${len0} → ${len1})`);

    // Every view opens from its link, draws, and reports no errors.
    check(Array.isArray(s1.views) && s1.views.length >= 4, `status lists the views (${s1.views})`);
    let previous = null;
    for (const view of s1.views || []) {
      // The Grid view's length is the patch grid's width (2…32).
      const len = view === 'grid' ? 16 : 200;
      await page.goto(`${base}/#view=${view}&len=${len}`);
      await page.waitForFunction((v) => window.poslens && window.poslens.status().ready && window.poslens.status().view === v, view, { timeout: READY_TIMEOUT_MS });
      await page.waitForTimeout(300);
      const s = await page.evaluate(() => window.poslens.status());
      const st = pngStats(await page.screenshot({ path: path.join(ART, `e2e-${name}-view-${view}.png`) }));
      if (previous) {
        const frac = changedFraction(previous, st.png);
        check(frac > 0.05, `view=${view} looks different from the previous view (${(frac * 100).toFixed(1)} % of pixels)`);
      }
      previous = st.png;
      check(typeof s.explanation === 'string' && /(19|20)\d\d/.test(s.explanation), `view=${view} explains itself and names a paper`);
      check(s.seq_len === len && s.errors.length === 0 && st.std > 20,
        `view=${view}: len ${s.seq_len}, errors ${JSON.stringify(s.errors)}, luminance std ${st.std.toFixed(1)}, frame ${s.frame_ms} ms`);
      if (view === 'attention') {
        // The heatmap engine, chosen by measurement: on WebGPU the app times both engines at
        // first use and the map's engine is the one the measurement picked for this N; WebGL2
        // has only the CPU engine. Forced onto the GPU (engine=gpu), the map is checked against
        // the CPU in the browser.
        await page.waitForFunction(() => window.poslens.status().heatmap_engine !== '', null, { timeout: 60_000 });
        if (mode.engine === 'gpu') {
          await page.waitForFunction(() => window.poslens.status().heatmap_measured, null, { timeout: 120_000, polling: 250 });
          await page.mouse.move(640, 400); await page.mouse.move(650, 410);
          await page.waitForTimeout(500);
          const a = await page.evaluate(() => window.poslens.status());
          const m = a.heatmap_measured;
          const expect = m.gpu_from_n !== null && a.seq_len >= m.gpu_from_n ? 'gpu' : 'cpu';
          check(m.cpu_ms.length === 2 && m.gpu_ms.length === 3 && a.heatmap_engine === expect && /measured/.test(a.heatmap_choice),
            `heatmap engine chosen by measurement: "${a.heatmap_choice}" → N = ${a.seq_len} on the ${a.heatmap_engine} (expected ${expect})`);
          await page.goto(`${base}/#view=attention&len=${len}&engine=gpu`);
          await page.waitForFunction(() => { const s = window.poslens.status(); return s.heatmap_engine === 'gpu' && s.heatmap_drawn === 'gpu'; }, null, { timeout: 60_000, polling: 250 });
          const g = await page.evaluate(() => window.poslens.status());
          check(typeof g.gpu_cpu_max_diff === 'number' && g.gpu_cpu_max_diff < 1e-4, `engine=gpu: the map is drawn on the GPU and agrees with the CPU in the browser (max |Δ| ${g.gpu_cpu_max_diff})`);
        } else {
          const a = await page.evaluate(() => window.poslens.status());
          check(a.heatmap_engine === 'cpu' && a.heatmap_drawn === 'texture' && /WebGL2/.test(a.heatmap_choice),
            `attention heatmap on the CPU (${a.heatmap_ms.toFixed(1)} ms): "${a.heatmap_choice}"`);
        }
      }
    }
    // Positions are data: click a rule button (windowed RoPE); the ids, the map and the trained
    // recall models follow. On the CPU worker, the windowed recall-rope model must beat plain ids
    // at 4× its training length (measured with poslens eval: 15 % → 100 %).
    await page.goto(`${base}/#view=positions&len=128`);
    await page.waitForFunction(() => { const p = window.poslens.status().positions; return p && p.rule_rects && p.rule_rects.windowed; }, null, { timeout: 60_000, polling: 250 });
    const p0 = (await page.evaluate(() => window.poslens.status())).positions;
    const wr = p0.rule_rects.windowed;
    await page.mouse.click(wr[0] + wr[2] / 2, wr[1] + wr[3] / 2);
    await page.waitForFunction(() => window.poslens.status().positions.rule.startsWith('windowed'), null, { timeout: 10_000, polling: 100 }).catch(() => {});
    const p1 = (await page.evaluate(() => window.poslens.status())).positions;
    check(p1.rule === 'windowed:16' && p1.max_distance === 16 && p0.rule === 'v2pe:0.25',
      `clicking "windowed" changes the rule (${p0.rule} → ${p1.rule}, largest distance ${p0.max_distance} → ${p1.max_distance})`);
    if (mode.compute === 'ndarray') {
      await page.waitForFunction(() => window.poslens.status().positions.model_scores.filter((m) => m.rule !== 'v2pe:0.25').length === 4, null, { timeout: 180_000, polling: 250 });
      const ms = (await page.evaluate(() => window.poslens.status())).positions.model_scores;
      const em = (model, rule) => (ms.find((m) => m.model === model && m.rule === rule) || {}).exact_match;
      check(em('recall-rope', 'windowed:16') > em('recall-rope', 'plain') + 0.3,
        `recall-rope at N = 128 in the worker: plain ids ${em('recall-rope', 'plain')}, windowed ${em('recall-rope', 'windowed:16')}`);
    }
    await page.screenshot({ path: path.join(ART, `e2e-${name}-positions.png`) });
    // Grids & graphs: click a patch; it becomes the query and holds the largest weight.
    await page.goto(`${base}/#view=grid&len=12&rows=8&qr=0&qc=0`);
    await page.waitForFunction(() => { const g = window.poslens.status().grid; return g && g.grid_rect; }, null, { timeout: 60_000, polling: 250 });
    const g0 = (await page.evaluate(() => window.poslens.status())).grid;
    const gr = g0.grid_rect, cell = gr[2] / 12;
    await page.mouse.click(gr[0] + 5.5 * cell, gr[1] + 2.5 * cell);
    // The click lands in the frame's drawing; the next frame recomputes the map for the new query.
    await page.waitForFunction(() => { const g = window.poslens.status().grid; return g.query[0] === 2 && g.query[1] === 5 && g.weight_at_query === g.max_weight; }, null, { timeout: 10_000, polling: 100 }).catch(() => {});
    const g1 = await page.evaluate(() => window.poslens.status());
    check(g1.grid.query[0] === 2 && g1.grid.query[1] === 5 && g1.grid.weight_at_query === g1.grid.max_weight && g1.state_hash.includes('qr=2&qc=5'),
      `clicking patch (2, 5) makes it the query (${JSON.stringify(g1.grid.query)}, link ${g1.state_hash.match(/qr=\d+&qc=\d+/)})`);
    check(g1.grid.closed_form_max_diff < 1e-9, `the cycle's Laplacian eigenvector equals its sinusoidal columns (max |Δ| ${g1.grid.closed_form_max_diff})`);
    await page.screenshot({ path: path.join(ART, `e2e-${name}-grid.png`) });

    // Model lab: the shipped copy/RoPE model, run in the page at two lengths.
    // The live PI curve is 8 lengths × 32 samples up to N = 256 in the compute worker: on
    // SwiftShader's CPU-emulated WebGPU that takes minutes on 2 busy cores.
    const lab = async (hash, pred, timeout = READY_TIMEOUT_MS) => {
      await page.goto(`${base}/#${hash}`);
      await page.waitForFunction(pred, null, { timeout, polling: 250 });
      return (await page.evaluate(() => window.poslens.status()));
    };
    const labDone = (len) => `(() => { const m = window.poslens.status().model_lab; return m && m.seq_len === ${len} && !m.busy && (m.exact_match !== null || m.cannot_run !== null); })()`;
    const m32 = await lab('view=model&task=copy&pe=rope&len=32', labDone(32));
    await page.screenshot({ path: path.join(ART, `e2e-${name}-model-32.png`) });
    const m128 = await lab('view=model&task=copy&pe=rope&len=128', labDone(128));
    await page.screenshot({ path: path.join(ART, `e2e-${name}-model-128.png`) });
    const a32 = m32.model_lab, a128 = m128.model_lab;
    check(a32.loaded_model === 'copy-rope' && a32.metadata_loaded === 12, `Model lab loaded copy-rope and 12 metadata files (${a32.loaded_model}, ${a32.metadata_loaded})`);
    check(a32.exact_match >= 0.9 && m32.errors.length === 0, `copy-rope at N = 32 (= L_train): ${(100 * a32.exact_match).toFixed(0)} % exact match on ${a32.samples} samples, burn ${m32.compute_backend}, ${a32.compute_ms.toFixed(0)} ms`);
    check(a128.exact_match < a32.exact_match - 0.3, `copy-rope at N = 128 (4× L_train) falls apart: ${(100 * a128.exact_match).toFixed(0)} %`);
    const mpi = await lab('view=model&task=copy&pe=rope&len=128&method=pi&factor=4', `(() => { const m = window.poslens.status().model_lab; return m && !m.busy && m.extension_curve; })()`, 480_000);
    check(Array.isArray(mpi.model_lab.extension_curve) && mpi.model_lab.extension_curve.length === 8, `RoPE + PI s=4: live curve over 8 lengths (${JSON.stringify(mpi.model_lab.extension_curve)})`);
    const ml = await lab('view=model&task=copy&pe=learned&len=64', labDone(64));
    check(typeof ml.model_lab.cannot_run === 'string' && ml.errors.length === 0, `learned APE past its table is reported, not a crash (${ml.model_lab.cannot_run})`);
    if (name === 'webgl2') {
      // Inside the model (burn on ndarray in the worker; SwiftShader WebGPU would take minutes):
      // recall by depth, and the linear position probe — NoPE builds its own position signal.
      const mp = await lab('view=model&task=recall&pe=nope&len=64&probe=1', `(() => { const m = window.poslens.status().model_lab; return m && m.seq_len === 64 && !m.busy && m.probe_r2; })()`, 240_000);
      const p = mp.model_lab;
      await page.screenshot({ path: path.join(ART, `e2e-${name}-model-probe.png`) });
      check(p.by_depth.length === 4 && p.probe_r2.length === 4 && p.probe_r2[1][0] > p.probe_r2[0][0] + 0.3 && mp.errors.length === 0,
        `Model lab, recall-nope at N = 64: exact match by depth ${JSON.stringify(p.by_depth.map((x) => +(100 * x).toFixed(0)))} %, probe R² at L_train input ${p.probe_r2[0][0].toFixed(2)} → block 1 ${p.probe_r2[1][0].toFixed(2)}, at N block 3 ${p.probe_r2[3][1].toFixed(2)}`);
      // Your own input, typed into the box: an invalid one gets an inline message, a valid one
      // is run (recall-nope's seeded sample replaced by the typed pairs).
      const box = mp.model_lab.input_box;
      await page.mouse.click(box[0] + box[2] / 2, box[1] + box[3] / 2);
      await page.keyboard.type('s3=v1 s7 ? s3');
      await page.waitForFunction(() => { const m = window.poslens.status().model_lab; return m && m.input_error; }, null, { timeout: 30_000, polling: 250 });
      const bad = (await page.evaluate(() => window.poslens.status())).model_lab.input_error;
      check(bad.includes('not a pair'), `typed input "s3=v1 s7 ? s3": inline message "${bad}"`);
      await page.keyboard.press('Control+A'); await page.keyboard.press('Backspace');
      await page.keyboard.type('s3=v1 s7=v4 s9=v2 ? s7');
      await page.waitForFunction(() => { const s = window.poslens.status(); const m = s.model_lab; return m && !m.input_error && !m.busy && s.state_hash.includes('input=') && m.trace_len === 10; }, null, { timeout: 120_000, polling: 250 });
      const mine = await page.evaluate(() => window.poslens.status());
      await page.screenshot({ path: path.join(ART, `e2e-${name}-model-input.png`) });
      check(mine.model_lab.trace_len === 10 && mine.errors.length === 0, `typed recall pairs run through the model: a ${mine.model_lab.trace_len}-token sample, answer ${mine.model_lab.trace_right ? 'right' : 'wrong'}, link ${mine.state_hash.match(/input=[^&]*/)}`);
      // Learned APE with its table interpolated to N = 64: the similarity map of 64 rows.
      const mls = await lab('view=model&task=copy&pe=learned&len=64&interp=1', `(() => { const m = window.poslens.status().model_lab; return m && m.seq_len === 64 && !m.busy && m.exact_match !== null && m.learned_similarity_side; })()`, 240_000);
      await page.screenshot({ path: path.join(ART, `e2e-${name}-model-learned-similarity.png`) });
      check(mls.model_lab.learned_similarity_side === 64 && mls.errors.length === 0,
        `Model lab, copy-learned interpolated to N = 64: position-similarity map of ${mls.model_lab.learned_similarity_side} rows, ${(100 * mls.model_lab.exact_match).toFixed(0)} % exact match`);
      // Position bias with the mask off: the same view, bidirectional, no errors.
      await page.goto(`${base}/#view=bias&len=128&causal=0`);
      await page.waitForFunction(() => { const s = window.poslens.status(); return s.view === 'bias' && s.seq_len === 128 && !s.heatmap_progress; }, null, { timeout: 60_000 });
      const sb = await page.evaluate(() => window.poslens.status());
      await page.screenshot({ path: path.join(ART, `e2e-${name}-bias-bidirectional.png`) });
      check(sb.state_hash.includes('causal=0') && sb.errors.length === 0 && sb.link_notes === 0, `Position bias, bidirectional: link kept (${sb.state_hash}), errors ${JSON.stringify(sb.errors)}`);
    }

    // Drag the attention view's length across L_train with the mouse.
    await page.goto(`${base}/#view=attention&len=64&train=128&scheme=alibi`);
    await page.waitForFunction(() => window.poslens.status().view === 'attention' && window.poslens.status().seq_len === 64, null, { timeout: 60_000 });
    await page.waitForTimeout(300);
    const sa = await page.evaluate(() => window.poslens.status());
    const ra = sa.controls.seq_len;
    await page.mouse.move(ra[0] + 3, ra[1] + ra[3] / 2); await page.mouse.down();
    for (let i = 1; i <= 10; i++) { await page.mouse.move(ra[0] + 3 + i * 7, ra[1] + ra[3] / 2); await page.waitForTimeout(30); }
    await page.mouse.up();
    await page.waitForTimeout(800);
    const sb = await page.evaluate(() => window.poslens.status());
    check(sb.seq_len > 128 && sb.errors.length === 0, `dragging the attention length across L_train = 128: ${sa.seq_len} → ${sb.seq_len}`);

    // Export: the PNG and CSV buttons of the attention view download real files.
    await page.goto(`${base}/#view=attention&len=64&scheme=alibi`);
    await page.waitForFunction(() => window.poslens.status().view === 'attention' && window.poslens.status().seq_len === 64, null, { timeout: 60_000 });
    await page.waitForTimeout(300);
    const ctl = (await page.evaluate(() => window.poslens.status())).controls;
    for (const [key, ext] of [['export_csv', 'csv'], ['export_png', 'png']]) {
      const r = ctl[key];
      if (!Array.isArray(r)) { check(false, `status reports the ${key} button`); continue; }
      // A click that lands while the page is busy can be lost on two busy cores: try twice,
      // and say what the page reported if no file came.
      let download = null;
      for (let attempt = 0; attempt < 2 && !download; attempt++) {
        [download] = await Promise.all([
          page.waitForEvent('download', { timeout: 20_000 }).catch(() => null),
          page.mouse.click(r[0] + r[2] / 2, r[1] + r[3] / 2),
        ]);
      }
      if (!download) {
        const st = await page.evaluate(() => window.poslens.status());
        check(false, `${key} downloads a file (export note: ${st.export_note}, PNG pending: ${st.export_pending})`);
        continue;
      }
      const file = path.join(ART, `e2e-${name}-export.${ext}`);
      await download.saveAs(file);
      const bytes = fs.readFileSync(file);
      if (ext === 'csv') {
        const lines = bytes.toString('utf8').trim().split('\n');
        check(lines[0].startsWith('query_block,k0') && lines.length === 65, `CSV export: header + 64 rows (${lines.length} lines)`);
      } else {
        const png = PNG.sync.read(bytes);
        check(png.width > 200 && png.height > 200, `PNG export of the view: ${png.width}×${png.height}`);
      }
    }
    // Faults: a missing weight file, a truncated download and corrupt metadata each give a clear
    // message in the Model lab, and the rest of the app keeps working.
    const faults = [
      ['missing weights (404)', '**/models/recall-alibi.plw', (route) => route.fulfill({ status: 404, body: 'not found' }), 'recall-alibi', /missing|404/],
      ['truncated weights', '**/models/recall-t5.plw', async (route) => { const r = await route.fetch(); const b = await r.body(); await route.fulfill({ status: 200, body: b.subarray(0, b.length >> 1) }); }, 'recall-t5', /truncated|bytes/],
      ['corrupt metadata', '**/models/recall-nope.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"format": 1, "name": ' }), 'recall-nope', /metadata|valid/],
    ];
    for (const [what, glob, handler, model, pattern] of faults) {
      await page.route(glob, handler);
      const [task, pe] = model.split('-');
      await page.goto(`${base}/#view=attention&len=64`);
      await page.goto(`${base}/?fault=${pe}#view=model&task=${task}&pe=${pe}&len=32`);
      let s;
      try {
        await page.waitForFunction((m) => { const s = window.poslens && window.poslens.status(); return s && s.ready && s.errors.some((e) => e.includes(m)); }, model, { timeout: 90_000, polling: 250 });
        s = await page.evaluate(() => window.poslens.status());
      } catch (e) { s = await page.evaluate(() => window.poslens && window.poslens.status()); }
      const msg = (s && s.errors.find((e) => e.includes(model))) || '';
      check(pattern.test(msg), `${what}: clear message (${msg})`);
      await page.unroute(glob);
      await page.goto(`${base}/#view=attention&len=128&scheme=alibi`);
      await page.waitForFunction(() => { const s = window.poslens && window.poslens.status(); return s && s.view === 'attention' && s.seq_len === 128 && s.heatmap_engine !== ''; }, null, { timeout: 60_000 });
      const after = await page.evaluate(() => window.poslens.status());
      check(after.errors.length === 0, `after ${what}: the Attention view still works (${JSON.stringify(after.errors)})`);
    }

    // Hostile links: the page keeps drawing, adjusts the link with notes, reports no errors, and
    // no frame of heavy work takes more than the budget (the CPU engine spreads it over frames).
    const hostile = HOSTILE_LINKS;
    for (const [what, hash] of hostile) {
      await page.goto(`${base}/#${hash}`);
      await page.waitForFunction(() => window.poslens && window.poslens.status().ready, null, { timeout: READY_TIMEOUT_MS });
      await page.waitForTimeout(1500);
      // egui repaints on input or while work is in flight: the page must answer the pointer.
      const f0 = (await page.evaluate(() => window.poslens.status())).frames;
      await page.mouse.move(700, 420); await page.mouse.move(720, 440);
      await page.waitForTimeout(400);
      const s = await page.evaluate(() => window.poslens.status());
      const st = pngStats(await page.screenshot({ path: path.join(ART, `e2e-${name}-hostile-${hostile.findIndex((h) => h[1] === hash)}.png`) }));
      // The work budget: ~100 ms on the CPU path; SwiftShader WebGPU renders on the same two
      // cores as the page (measured 66–205 ms there), so its frames get a wider limit.
      // WebGL2 (CPU path): about 100 ms; web/bench-frames.mjs measures 2–67 ms here (README),
      // so 120 ms leaves room for two busy CI cores.
      const limit = name === 'webgl2' ? 120 : 300;
      check(s.frames > f0 && s.errors.length === 0 && st.std > 20 && s.slowest_frame_ms < limit,
        `hostile link (${what}): still drawing (${s.frames - f0} frames in 0.4 s after a pointer move, slowest frame since the link ${s.slowest_frame_ms.toFixed(0)} ms (< ${limit}), last ${s.frame_ms.toFixed(0)} ms), ${s.link_notes} note(s), errors ${JSON.stringify(s.errors)}`);
    }
    // Lengths up to 65 536 for a map of k − q alone (identical tokens): the fast path's block
    // rows spread over frames; row-by-row content stops at 8192, with a note.
    await page.goto(`${base}/#view=attention&len=65536&content=random`);
    await page.waitForFunction(() => window.poslens.status().view === 'attention', null, { timeout: 30_000 });
    const capped = await page.evaluate(() => window.poslens.status());
    await page.goto(`${base}/#view=attention&len=65536&scheme=alibi`);
    await page.waitForFunction(() => { const s = window.poslens.status(); return s.seq_len === 65536 && s.heatmap_progress === null && s.heatmap_engine !== '' && s.heatmap_ms > 0; }, null, { timeout: 120_000, polling: 250 }).catch(() => {});
    const long = await page.evaluate(() => window.poslens.status());
    check(capped.seq_len === 8192 && capped.link_notes >= 1 && long.seq_len === 65536 && long.heatmap_progress === null && long.errors.length === 0 && long.slowest_frame_ms < (name === 'webgl2' ? 120 : 300),
      `N = 65 536 (identical tokens): drawn on the ${long.heatmap_engine} in ${long.heatmap_ms.toFixed(0)} ms (${long.heatmap_busy_ms.toFixed(0)} ms of rows), slowest frame ${long.slowest_frame_ms.toFixed(0)} ms; random tokens stop at ${capped.seq_len} with ${capped.link_notes} note(s)`);
    if (name === 'webgpu') {
      // A GPU map is drawn from the device's buffers by a paint callback (no read-back). Its
      // pixels on SwiftShader must equal the CPU-coloured texture of the same link within 1 LSB
      // per channel; placement may differ by a pixel at cell edges, so a pixel also passes when
      // its 3×3 neighbourhood in the other picture holds its colour. (tests/gpu_heatmap_draw.rs
      // checks the same pixel for pixel on lavapipe, in an offscreen target.)
      const shot = async (link, n, engine) => {
        await page.goto(`${base}/#${link}&engine=${engine}`);
        await page.waitForFunction(([n, e]) => { const s = window.poslens.status(); return s.view === 'attention' && s.seq_len === n && s.heatmap_engine === e && s.heatmap_rect && s.heatmap_progress === null && s.heatmap_ms > 0; }, [n, engine], { timeout: 120_000, polling: 250 });
        await page.mouse.move(5, 5);
        await page.waitForTimeout(400);
        const s = await page.evaluate(() => window.poslens.status());
        const [x, y, w, h] = s.heatmap_rect;
        const clip = { x: Math.ceil(x) + 1, y: Math.ceil(y) + 1, width: Math.floor(w) - 3, height: Math.floor(h) - 3 };
        const buf = await page.screenshot({ clip, path: path.join(ART, `e2e-${name}-heatmap-${n}-${engine}.png`) });
        return { s, png: PNG.sync.read(buf) };
      };
      // N = 512 and N = 65 536 (the prefix kernel's longest map: 33 M steps), logits: the softmax
      // map at 65 536 is one bright diagonal, too plain for the picture check.
      for (const [link, n] of [['view=attention&len=512&scheme=rope&mode=logits&train=256', 512], ['view=attention&len=65536&scheme=rope&mode=logits&train=8192', 65536]]) {
        const g = await shot(link, n, 'gpu');
        const c = await shot(link, n, 'cpu');
        const [a, b] = [g.png, c.png];
        let exact = 0, near = 0, bad = 0;
        const close = (i, j) => Math.max(Math.abs(a.data[i] - b.data[j]), Math.abs(a.data[i + 1] - b.data[j + 1]), Math.abs(a.data[i + 2] - b.data[j + 2])) <= 1;
        if (a.width === b.width && a.height === b.height) {
          for (let y = 0; y < a.height; y++) {
            for (let x = 0; x < a.width; x++) {
              const i = (y * a.width + x) * 4;
              if (close(i, i)) { exact++; continue; }
              let found = false;
              for (let dy = -1; dy <= 1 && !found; dy++) {
                for (let dx = -1; dx <= 1 && !found; dx++) {
                  const yy = y + dy, xx = x + dx;
                  if (yy >= 0 && xx >= 0 && yy < a.height && xx < a.width) found = close(i, (yy * a.width + xx) * 4);
                }
              }
              if (found) near++; else bad++;
            }
          }
        }
        const total = a.width * a.height;
        check(g.s.heatmap_drawn === 'gpu' && c.s.heatmap_drawn === 'texture' && total > 10_000 && bad <= total * 0.002 && pngStats(PNG.sync.write(a)).std > 20,
          `GPU-drawn heatmap (paint callback) equals the CPU texture on SwiftShader at N = ${n}: ${a.width}×${a.height} px, ${(100 * exact / Math.max(1, total)).toFixed(2)} % identical within 1 LSB, ${near} a pixel off at cell edges, ${bad} different (drawn: ${g.s.heatmap_drawn} vs ${c.s.heatmap_drawn}; GPU ${g.s.heatmap_ms.toFixed(0)} ms to its read-back, CPU ${c.s.heatmap_busy_ms.toFixed(0)} ms of rows)`);
      }
    }
    if (name === 'webgpu') {
      // The engine façade in the other heatmap views: with ?heatmaps=gpu (the measured choice
      // overridden) Compare and Extension draw their maps from the GPU's buffers — Extension's
      // two on one scale, the union of both device ranges — and look like the CPU textures.
      const views = [['compare', 'view=compare&len=512', (s) => s.panels_drawn_on_gpu === 6, (s) => s.panels_drawn_on_gpu === 0],
        ['extension', 'view=extension&len=1024&method=yarn&factor=8', (s) => s.maps_drawn === 'gpu', (s) => s.maps_drawn === 'texture']];
      for (const [what, hash, onGpu, onCpu] of views) {
        const shots = {};
        for (const engine of ['gpu', 'cpu']) {
          await page.goto(`${base}/?heatmaps=${engine}#${hash}`);
          await page.waitForFunction(() => window.poslens && window.poslens.status().ready, null, { timeout: READY_TIMEOUT_MS });
          await page.waitForTimeout(3000);
          const s = await page.evaluate(() => window.poslens.status());
          shots[engine] = { s, png: PNG.sync.read(await page.screenshot({ clip: { x: 300, y: 0, width: 980, height: 760 }, path: path.join(ART, `e2e-${name}-${what}-${engine}.png`) })) };
        }
        const frac = changedFraction(shots.gpu.png, shots.cpu.png);
        check(onGpu(shots.gpu.s) && onCpu(shots.cpu.s) && shots.gpu.s.errors.length === 0 && frac < 0.01,
          `${what}: ?heatmaps=gpu draws on the GPU ("${shots.gpu.s.heatmap_choice}"), and the picture matches the CPU textures (${(frac * 100).toFixed(2)} % of pixels differ)`);
      }
    }
    if (name === 'webgpu') {
      // The WebGPU device lost mid-session: the app restarts on WebGL2 in place (no reload),
      // keeps the view and its state, says why, and keeps drawing on the CPU engine.
      await page.goto(`${base}/#view=attention&len=512&scheme=alibi&train=256&engine=gpu`);
      await page.waitForFunction(() => { const s = window.poslens && window.poslens.status(); return !!s && s.view === 'attention' && s.seq_len === 512 && s.heatmap_engine === 'gpu'; }, null, { timeout: 60_000 });
      // A reload would drop this marker (the app mirrors its state with replaceState, which
      // Playwright also reports as a navigation, so the marker is the test of "no reload").
      const lost = await page.evaluate(() => { window.__beforeLoss = true; const ds = self.__poslensGpuDevices || []; ds.forEach((d) => d.destroy()); return ds.length; });
      let s;
      try {
        await page.waitForFunction(() => { const s = window.poslens && window.poslens.status(); return !!s && s.render_backend === 'webgl2' && s.ready && s.notice; }, null, { timeout: 60_000, polling: 250 });
        await page.waitForFunction(() => window.poslens.status().heatmap_engine === 'cpu', null, { timeout: 60_000, polling: 250 });
        const f0 = (await page.evaluate(() => window.poslens.status())).frames;
        await page.mouse.move(700, 420); await page.mouse.move(720, 440);
        await page.waitForTimeout(400);
        s = await page.evaluate(() => window.poslens.status());
        const st = pngStats(await page.screenshot({ path: path.join(ART, `e2e-${name}-device-lost.png`) }));
        const sameDocument = await page.evaluate(() => window.__beforeLoss === true);
        check(lost > 0 && sameDocument && s.view === 'attention' && s.seq_len === 512 && s.state_hash.includes('scheme=alibi') && s.frames > f0 && st.std > 20 && s.errors.length === 0,
          `GPU device lost (${lost} destroyed): restarted on ${s.render_backend} without a reload, same view (${s.view}, N = ${s.seq_len}), heatmap on the ${s.heatmap_engine}, drawing (${s.frames - f0} frames after a pointer move), notice "${s.notice}", errors ${JSON.stringify(s.errors)}`);
      } catch (e) {
        s = await page.evaluate(() => window.poslens && window.poslens.status());
        check(false, `GPU device lost: no recovery (${e.message.split('\n')[0]}; status ${JSON.stringify(s && { render: s.render_backend, notice: s.notice, errors: s.errors })})`);
      }
    }
    if (name === 'webgpu') {
      // The worker's choice on a software adapter, and burn's wgpu path forced onto it: the
      // softmax row and a Model-lab run on SwiftShader WebGPU in the worker.
      // A software adapter is named and not timed (its probe would hold up the GPU process
      // that draws the page); hardware adapters are timed (src/compute/backend_choice.rs).
      check(s1.compute_backend === 'ndarray' && /^burn ndarray \(CPU\): the worker's WebGPU adapter is a software renderer \(.*swiftshader.*\)/i.test(s1.compute_note),
        `on SwiftShader the worker chose ndarray without timing the software adapter: "${s1.compute_note}"`);
      const forced = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      try {
        await forced.goto(`${base}/?compute=wgpu#view=sinusoidal&len=64&d=128&q=32`);
        await forced.waitForFunction(() => window.poslens && window.poslens.status().compute_check, null, { timeout: READY_TIMEOUT_MS, polling: 250 });
        const f1 = await forced.evaluate(() => window.poslens.status());
        check(f1.compute_backend === 'wgpu' && f1.compute_check.passed === true,
          `?compute=wgpu: burn on the worker's SwiftShader WebGPU (${f1.compute_backend}), softmax row matches the CPU (max |Δ| ${f1.compute_check.max_abs_diff})`);
        await forced.goto(`${base}/?compute=wgpu#view=model&task=copy&pe=rope&len=32`);
        await forced.waitForFunction(() => { const m = window.poslens.status().model_lab; return m && m.seq_len === 32 && !m.busy && m.exact_match !== null; }, null, { timeout: 480_000, polling: 250 });
        const f2 = await forced.evaluate(() => window.poslens.status());
        check(f2.compute_backend === 'wgpu' && f2.model_lab.exact_match >= 0.9 && f2.errors.length === 0,
          `?compute=wgpu: copy-rope at N = 32 on SwiftShader WebGPU: ${(100 * f2.model_lab.exact_match).toFixed(0)} % in ${f2.model_lab.compute_ms.toFixed(0)} ms`);
      } finally { await forced.close(); }
    }
    // The faults above log failed downloads to the console by design.
    const unexpected = consoleErrors.filter((e) => !/404|Failed to load resource/.test(e));
    check(unexpected.length === 0, `no console errors (${JSON.stringify(unexpected.slice(0, 5))})`);
  } finally {
    await browser.close();
  }
}

fs.mkdirSync(ART, { recursive: true });
// Served under a sub-path, as a GitHub Pages project site is: every URL in the build is relative.
const { server, base, requests } = await serveDist('/poslens');
console.log(`serving dist/ at ${base}/`);
const only = process.argv[2];
try {
  for (const [name, mode] of Object.entries(MODES)) {
    if (only && only !== name) continue;
    try { await runMode(name, mode, base); } catch (e) { check(false, `${name}: ${e.message.split('\n')[0]}`); }
  }
} finally { server.close(); }
const outside = requests.filter((u) => !u.startsWith('/poslens/'));
check(outside.length === 0, `every request stayed under /poslens/ (${JSON.stringify(outside.slice(0, 5))})`);
if (failures.length) { console.error(`\n${failures.length} browser check(s) failed`); process.exit(1); }
console.log('\nbrowser end-to-end: all checks passed');
