// Attention-view recompute time in headless Chromium (SwiftShader WebGPU, i.e. a CPU emulating a
// GPU — real GPUs are orders of magnitude faster), GPU vs CPU engine, read through
// window.poslens.status() while the length changes. Usage: node web/bench.mjs (after trunk build).
// Env: POSLENS_BENCH_N (lengths, default 512…8192), POSLENS_BENCH_ENGINES (default gpu,cpu),
// POSLENS_BENCH_CONTENT (identical tokens, the default, or random: the row-by-row path).
import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const { server, base } = await serveDist();
const browser = await launchChromium(WEBGPU_ARGS);
const sizes = (process.env.POSLENS_BENCH_N || '512,1024,2048,4096,8192').split(',').map(Number);
const engines = (process.env.POSLENS_BENCH_ENGINES || 'gpu,cpu').split(',');
const content = process.env.POSLENS_BENCH_CONTENT || 'identical';
const rows = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${base}/#view=attention&len=64`);
  await page.waitForFunction(() => window.poslens && window.poslens.status().ready, null, { timeout: 180_000 });
  for (const engine of engines) {
    for (const n of sizes) {
      const times = [];
      for (const train of [256, 512, 1024]) { // three recomputes per N (the train marker changes the state)
        const shown = await page.evaluate(() => window.poslens.status().maps_shown);
        await page.evaluate(([n, e, t, c]) => { location.hash = `view=attention&len=${n}&engine=${e}&train=${Math.max(8, Math.min(4096, t))}&scheme=rope&content=${c}`; }, [n, engine, train, content]);
        await page.waitForFunction(([n, e, shown]) => { const s = window.poslens.status(); return s.seq_len === n && s.heatmap_engine === e && s.heatmap_ms > 0 && s.heatmap_progress === null && s.maps_shown > shown; }, [n, engine, shown], { timeout: 300_000, polling: 50 });
        await page.waitForTimeout(200);
        // CPU maps spread over frames: the time their rows took (what one go would take).
        const s = await page.evaluate(() => window.poslens.status());
        times.push(engine === 'cpu' ? s.heatmap_busy_ms : s.heatmap_ms);
      }
      times.sort((a, b) => a - b);
      rows.push({ engine, n, ms: times[1] });
      console.log(`${engine} N=${n}: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    }
  }
} finally { await browser.close(); server.close(); }
console.log(`\ncontent: ${content}`);
console.log('\n| N | GPU engine (SwiftShader WebGPU) | CPU engine (wasm) |\n|---|---|---|');
for (const n of sizes) {
  const g = rows.find((r) => r.engine === 'gpu' && r.n === n), c = rows.find((r) => r.engine === 'cpu' && r.n === n);
  console.log(`| ${n} | ${g ? g.ms.toFixed(1) + ' ms' : '—'} | ${c ? c.ms.toFixed(1) + ' ms' : '—'} |`);
}
