// Screenshot the built page (dist/) in headless Chromium with WebGPU in software.
// Usage: node web/screenshot.mjs '<url hash>' out.png [width height]
import fs from 'node:fs';
import path from 'node:path';
import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';

const [hash = '', out = 'artifacts/screenshot.png', width = '1280', height = '800'] = process.argv.slice(2);
const { server, base } = await serveDist();
// POSLENS_WEBGL2=1: no GPU flags (WebGL2 page, burn on ndarray in the worker: much faster for the Model lab).
const browser = await launchChromium(process.env.POSLENS_WEBGL2 ? [] : WEBGPU_ARGS);
try {
  const page = await browser.newPage({ viewport: { width: +width, height: +height } });
  page.on('console', (m) => { if (m.type() === 'error') console.error('console:', m.text()); });
  await page.goto(`${base}/#${hash}`);
  await page.waitForFunction(() => window.poslens && window.poslens.status().ready, null, { timeout: 180_000 });
  // The Model lab loads weights and runs the model asynchronously: wait until it is idle.
  await page.waitForFunction(() => { const m = window.poslens.status().model_lab; return !m || !m.busy; }, null, { timeout: 300_000, polling: 200 });
  // The Positions view scores two shipped models in the worker: wait for its four scores.
  await page.waitForFunction(() => { const p = window.poslens.status().positions; return !p || p.model_scores.length === 4; }, null, { timeout: 300_000, polling: 200 });
  await page.waitForTimeout(1000);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  await page.screenshot({ path: out });
  const s = await page.evaluate(() => window.poslens.status());
  console.log(JSON.stringify({ view: s.view, seq_len: s.seq_len, frame_ms: s.frame_ms, errors: s.errors, model_lab: s.model_lab, positions: s.positions, grid: s.grid }));
} finally { await browser.close(); server.close(); }
