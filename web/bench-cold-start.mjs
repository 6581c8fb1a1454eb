// Cold start: time from navigation to the first interactive frame of the Attention view
// (window.poslens.status().ready, i.e. eframe drew a frame and answers input), in headless
// Chromium from localhost, with a fresh profile (empty cache) each run. Also prints the bytes
// the browser downloaded before that frame. Usage: node web/bench-cold-start.mjs [runs] [webgpu]
import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const runs = Number(process.argv[2] || 5);
const args = process.argv[3] === 'webgpu' ? WEBGPU_ARGS : [];
const { server, base } = await serveDist('/poslens');
const times = [], paint = [], bytes = [];
try {
  for (let i = 0; i < runs; i++) {
    const browser = await launchChromium(args);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      let received = 0;
      page.on('response', async (r) => { try { received += (await r.body()).length; } catch { /* redirects */ } });
      const t0 = Date.now();
      await page.goto(`${base}/`);
      await page.waitForFunction(() => window.poslens && window.poslens.status().ready, null, { timeout: 120_000, polling: 10 });
      times.push(Date.now() - t0);
      paint.push(await page.evaluate(() => { const h = window.poslens.status(); return h.heatmap_engine ? 1 : 0; }));
      bytes.push(received);
    } finally { await browser.close(); }
  }
} finally { server.close(); }
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`cold start (${args.length ? 'WebGPU' : 'WebGL2'}), navigation → first interactive frame, ${runs} runs: ` +
  `median ${median} ms, min ${sorted[0]} ms, max ${sorted[sorted.length - 1]} ms; ` +
  `${(bytes[0] / 1e6).toFixed(2)} MB downloaded (uncompressed, localhost)`);
