// Train-lab benchmark: the quick preset (copy, RoPE) trained in headless Chromium from a run=1
// link, on the CPU path (WebGL2 page, burn ndarray in the compute worker) and on SwiftShader
// WebGPU (burn wgpu in the worker). Prints steps/s and the time until in-distribution exact
// match first reached 95 %. Usage: node web/bench-train.mjs [webgl2|webgpu] [steps]
import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const modes = process.argv[2] ? [process.argv[2]] : ['webgl2', 'webgpu'];
const steps = Number(process.argv[3] || 1000);
const { server, base } = await serveDist('/poslens');
try {
  for (const mode of modes) {
    const browser = await launchChromium(mode === 'webgpu' ? WEBGPU_ARGS : []);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${base}/#view=train&task=copy&pe=rope&preset=quick&steps=${steps}&run=1`);
      const t0 = Date.now();
      let reached = null, last = null;
      for (;;) {
        await page.waitForTimeout(250);
        const t = await page.evaluate(() => window.poslens && window.poslens.status().train_lab);
        if (!t) continue;
        last = t;
        if (Math.floor((Date.now() - t0) / 30000) !== Math.floor((Date.now() - t0 - 250) / 30000)) {
          console.log(`  ${mode} ${((Date.now() - t0) / 1000).toFixed(0)} s: ${t.state} step ${t.step}/${t.steps}, ${t.steps_per_s.toFixed(2)} steps/s, loss ${t.loss}`);
        }
        if (reached === null && t.exact_match !== null && t.exact_match >= 0.95) reached = (Date.now() - t0) / 1000;
        if (t.state === 'done' || t.state === 'error' || Date.now() - t0 > 900_000) break;
      }
      console.log(`${mode}: ${last.steps} steps, ${last.steps_per_s.toFixed(1)} steps/s on burn ${last.backend}; ` +
        `exact match ${(100 * last.exact_match).toFixed(1)} %; ≥ 95 % after ${reached === null ? 'never' : reached.toFixed(0) + ' s'} ` +
        `(wall time from navigation, incl. worker download); done after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally { await browser.close(); }
  }
} finally { server.close(); }
