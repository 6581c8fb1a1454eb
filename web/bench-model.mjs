// Model lab forward pass + attention trace (batch 1, recall-rope, 3 layers × 4 heads) in headless
// Chromium: burn on the page's WebGPU device (SwiftShader, a CPU emulating a GPU) and burn ndarray
// in wasm (WebGL2-only page), read through window.poslens.status().model_lab.trace_ms.
// Usage: node web/bench-model.mjs (after trunk build). The lab's lengths stop at 256 (task limit);
// `cargo bench --bench model` measures 64 / 256 / 1024 natively. POSLENS_BENCH_BACKEND=ndarray|wgpu: one only.
import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const { server, base } = await serveDist();
const lens = [64, 256];
// POSLENS_BENCH_BACKEND=ndarray (or wgpu) runs one backend only.
const only = process.env.POSLENS_BENCH_BACKEND || '';
const rows = [];
try {
  for (const [backend, args] of [['wgpu (WebGPU, SwiftShader)', WEBGPU_ARGS], ['ndarray (wasm)', []]].filter(([b]) => only === '' || b.startsWith(only))) {
    const browser = await launchChromium(args);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${base}/#view=model&task=recall&pe=rope&len=32`);
      await page.waitForFunction(() => { const m = window.poslens && window.poslens.status().model_lab; return m && !m.busy && m.trace_ms !== null; }, null, { timeout: 300_000, polling: 100 });
      for (const len of lens) {
        const times = [];
        for (const sample of [1, 2, 3, 4, 5, 6, 7]) { // seven runs (a new sample re-runs the model); the median is kept
          await page.evaluate(([l, s]) => { location.hash = `view=model&task=recall&pe=rope&len=${l}&sample=${s}`; }, [len, sample]);
          await page.waitForFunction(([l, s]) => { const st = window.poslens.status(), m = st.model_lab; return st.state_hash.includes(`&sample=${s}`) && m.seq_len === l && !m.busy && m.trace_ms !== null; }, [len, sample], { timeout: 300_000, polling: 50 });
          await page.waitForTimeout(100);
          times.push((await page.evaluate(() => window.poslens.status().model_lab.trace_ms)));
        }
        times.sort((a, b) => a - b);
        rows.push({ backend, len, ms: times[times.length >> 1] });
        console.log(`${backend} L=${len}: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
      }
    } finally { await browser.close(); }
  }
} finally { server.close(); }
console.log('\n| L | burn wgpu (SwiftShader WebGPU) | burn ndarray (wasm) |\n|---|---|---|');
for (const len of lens) {
  const cell = (b) => { const r = rows.find((x) => x.backend.startsWith(b) && x.len === len); return r ? `${r.ms.toFixed(1)} ms` : '—'; };
  console.log(`| ${len} | ${cell('wgpu')} | ${cell('ndarray')} |`);
}
