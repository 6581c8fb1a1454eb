// The drag rate, measured: the Attention view (RoPE, identical tokens) while the sequence
// length changes every frame, in headless Chromium, on three paths in one run:
//   gpu     — WebGPU page (SwiftShader here), WGSL engine, map drawn by the paint callback;
//   cpu     — the same WebGPU page with engine=cpu (CPU engine, texture upload);
//   webgl2  — no WebGPU adapter (CPU engine; what every WebGL2 browser gets).
// Per N: maps on screen per second (a new length's picture each), frames per second, and the
// engine's time per map (CPU: compute; GPU: submit → read-back of the statistics, which the
// picture does not wait for). Usage: node web/bench-drag.mjs [seconds=3] [N,N,…]
// (needs the `trunk build --release` output in dist/).
import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const seconds = Number(process.argv[2] || 3);
const sizes = (process.argv[3] || '512,1024,2048,4096,8192').split(',').map(Number);
const paths = [
  ['gpu', WEBGPU_ARGS, 'gpu'],
  ['cpu', WEBGPU_ARGS, 'cpu'],
  ['webgl2', [], 'cpu'],
];
const { server, base } = await serveDist('/poslens');
const rows = new Map(sizes.map((n) => [n, {}]));
try {
  for (const [name, args, engine] of paths) {
    const browser = await launchChromium(args);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      for (const n of sizes) {
        const hash = (len) => `view=attention&scheme=rope&len=${len}&train=512&engine=${engine}`;
        await page.goto(`${base}/#${hash(n)}`);
        await page.waitForFunction((n) => { const s = window.poslens && window.poslens.status(); return s && s.ready && s.seq_len === n && s.maps_shown > 0 && s.heatmap_progress === null; }, n, { timeout: 180_000, polling: 100 });
        // Drag: press 8 px beside the length slider's handle and move onto it (egui starts a
        // drag only past its click distance), then one pixel back and forth, a move per
        // animation frame (each pixel is a new N, about 7 % apart), for `seconds`.
        const [hx, hy] = (await page.evaluate(() => window.poslens.status())).len_handle;
        const dir = n >= 8192 ? -1 : 1;
        await page.mouse.move(hx - 8 * dir, hy);
        await page.mouse.down();
        await page.mouse.move(hx - 4 * dir, hy);
        await page.mouse.move(hx, hy);
        const s0 = await page.evaluate(() => window.poslens.status());
        const t0 = Date.now();
        const ms = [];
        for (let k = 1; Date.now() - t0 < seconds * 1000; k++) {
          await page.mouse.move(hx + dir * (k % 2), hy);
          const s = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => { const s = window.poslens.status(); r({ ms: s.heatmap_ms }); })));
          if (s.ms > 0) ms.push(s.ms);
        }
        const s1 = await page.evaluate(() => window.poslens.status());
        await page.mouse.up();
        const dt = (Date.now() - t0) / 1000;
        ms.sort((a, b) => a - b);
        const r = {
          maps_per_s: (s1.maps_shown - s0.maps_shown) / dt,
          frames_per_s: (s1.frames - s0.frames) / dt,
          median_ms: ms.length ? ms[Math.floor(ms.length / 2)] : null,
          drawn: s1.heatmap_drawn,
          engine: s1.heatmap_engine,
          lengths: [s0.seq_len, s1.seq_len],
        };
        rows.get(n)[name] = r;
        console.error(`${name} N=${n}: ${JSON.stringify(r)}`);
      }
    } finally { await browser.close(); }
  }
} finally { server.close(); }
const f = (x, d = 1) => (x === null || x === undefined ? '–' : x.toFixed(d));
console.log(`Attention view (RoPE) while the length changes every frame, ${seconds} s per cell, headless Chromium`);
console.log('| N | GPU maps/s (fps) | GPU read-back ms | CPU maps/s (fps) | CPU ms/map | WebGL2 maps/s (fps) | WebGL2 ms/map | GPU ÷ CPU maps/s |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [n, r] of rows) {
  const g = r.gpu || {}, c = r.cpu || {}, w = r.webgl2 || {};
  const ratio = g.maps_per_s && c.maps_per_s ? g.maps_per_s / c.maps_per_s : null;
  console.log(`| ${n} | ${f(g.maps_per_s)} (${f(g.frames_per_s)}) | ${f(g.median_ms)} | ${f(c.maps_per_s)} (${f(c.frames_per_s)}) | ${f(c.median_ms)} | ${f(w.maps_per_s)} (${f(w.frames_per_s)}) | ${f(w.median_ms)} | ${f(ratio, 2)} |`);
}
