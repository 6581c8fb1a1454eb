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
        // drag only past its click distance), then two pixels back and forth, one move per
        // animation frame (two pixels: a new N, about 15 % apart), for `seconds` — pointer
        // events dispatched in the page, so no test-driver round trip paces the frames.
        const r = await page.evaluate(async ({ seconds, top }) => {
          const canvas = document.querySelector('canvas');
          const [hx, hy] = window.poslens.status().len_handle;
          const dir = top ? -1 : 1;
          // eframe reads moves from `mousemove`, presses from `pointerdown` / `pointerup`.
          const ev = (type, x) => {
            const init = { clientX: x, clientY: hy, bubbles: true, cancelable: true, button: 0, buttons: type === 'pointerup' ? 0 : 1 };
            canvas.dispatchEvent(type === 'pointermove'
              ? new MouseEvent('mousemove', init)
              : new PointerEvent(type, { ...init, pointerId: 1, pointerType: 'mouse', isPrimary: true }));
          };
          const frame = () => new Promise((r) => requestAnimationFrame(r));
          ev('pointermove', hx - 8 * dir); await frame();
          ev('pointerdown', hx - 8 * dir); await frame();
          ev('pointermove', hx - 4 * dir); await frame();
          ev('pointermove', hx); await frame(); await frame();
          const s0 = window.poslens.status();
          const lengths = new Set();
          const ms = [];
          const t0 = performance.now();
          for (let k = 1; performance.now() - t0 < seconds * 1000; k++) {
            ev('pointermove', hx + 2 * dir * (k % 2));
            await frame();
            const s = window.poslens.status();
            lengths.add(s.seq_len);
            if (s.heatmap_ms > 0) ms.push(s.heatmap_ms);
          }
          const s1 = window.poslens.status();
          const dt = (performance.now() - t0) / 1000;
          ev('pointerup', hx);
          ms.sort((a, b) => a - b);
          return {
            maps_per_s: (s1.maps_shown - s0.maps_shown) / dt,
            frames_per_s: (s1.frames - s0.frames) / dt,
            median_ms: ms.length ? ms[Math.floor(ms.length / 2)] : null,
            drawn: s1.heatmap_drawn,
            engine: s1.heatmap_engine,
            lengths: [...lengths].sort((a, b) => a - b),
          };
        }, { seconds, top: n >= 8192 });
        rows.get(n)[name] = r;
        console.error(`${name} N=${n}: ${JSON.stringify(r)}`);
      }
    } finally { await browser.close(); }
  }
} finally { server.close(); }
const f = (x, d = 1) => (x === null || x === undefined ? '–' : x.toFixed(d));
console.log(`Attention view (RoPE) while the length changes every frame, ${seconds} s per cell, headless Chromium`);
console.log('| link N | lengths dragged | GPU maps/s (fps) | GPU read-back ms | CPU maps/s (fps) | CPU ms/map | WebGL2 maps/s (fps) | WebGL2 ms/map | GPU ÷ CPU maps/s |');
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [n, r] of rows) {
  const g = r.gpu || {}, c = r.cpu || {}, w = r.webgl2 || {};
  const ratio = g.maps_per_s && c.maps_per_s ? g.maps_per_s / c.maps_per_s : null;
  const ls = (c.lengths || []).join(' ↔ ');
  console.log(`| ${n} | ${ls} | ${f(g.maps_per_s)} (${f(g.frames_per_s)}) | ${f(g.median_ms)} | ${f(c.maps_per_s)} (${f(c.frames_per_s)}) | ${f(c.median_ms)} | ${f(w.maps_per_s)} (${f(w.frames_per_s)}) | ${f(w.median_ms)} | ${f(ratio, 2)} |`);
}
