// Attention-view recompute time in headless Chromium (SwiftShader WebGPU, i.e. a CPU emulating a
// GPU — real GPUs are orders of magnitude faster), GPU vs CPU engine, read through
// window.poslens.status() while the length changes. Usage: node web/bench.mjs (after trunk build).
import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const { server, base } = await serveDist();
const browser = await launchChromium(WEBGPU_ARGS);
const sizes = (process.env.POSLENS_BENCH_N || '512,1024,2048,4096,8192').split(',').map(Number);
const rows = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${base}/#view=attention&len=64`);
  await page.waitForFunction(() => window.poslens && window.poslens.status().ready, null, { timeout: 180_000 });
  for (const engine of ['gpu', 'cpu']) {
    for (const n of sizes) {
      const times = [];
      for (const train of [n / 2, n / 4, n / 8]) { // three recomputes per N (the train marker changes the state)
        await page.evaluate(([n, e, t]) => { location.hash = `view=attention&len=${n}&engine=${e}&train=${Math.max(8, Math.min(4096, t))}&scheme=rope`; }, [n, engine, train]);
        await page.waitForFunction(([n, e]) => { const s = window.poslens.status(); return s.seq_len === n && s.heatmap_engine === e && s.heatmap_ms > 0; }, [n, engine], { timeout: 300_000, polling: 50 });
        await page.waitForTimeout(200);
        times.push((await page.evaluate(() => window.poslens.status())).heatmap_ms);
      }
      times.sort((a, b) => a - b);
      rows.push({ engine, n, ms: times[1] });
      console.log(`${engine} N=${n}: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    }
  }
} finally { await browser.close(); server.close(); }
console.log('\n| N | GPU engine (SwiftShader WebGPU) | CPU engine (wasm) |\n|---|---|---|');
for (const n of sizes) {
  const g = rows.find((r) => r.engine === 'gpu' && r.n === n), c = rows.find((r) => r.engine === 'cpu' && r.n === n);
  console.log(`| ${n} | ${g ? g.ms.toFixed(1) + ' ms' : '—'} | ${c ? c.ms.toFixed(1) + ' ms' : '—'} |`);
}
