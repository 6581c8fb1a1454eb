// Browser test of the Train lab on the CPU path (WebGL2, burn ndarray in the compute worker):
// a link with run=1 trains the quick preset on copy; the loss falls, in-distribution exact match
// reaches the threshold, the page keeps drawing while it trains, and the exported weights load
// in `poslens eval` with the same accuracy and in the Model lab (button, drop, file picker). Usage: node web/e2e-train.mjs [threshold]
// (POSLENS_BIN: the native poslens binary, default $CARGO_TARGET_DIR/debug/poslens).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, launchChromium, serveDist } from './harness.mjs';

const THRESHOLD = Number(process.argv[2] || 0.95);
const BIN = process.env.POSLENS_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'debug', 'poslens');
const failures = [];
function check(cond, what) { console.log(`  ${cond ? 'ok  ' : 'FAIL'} ${what}`); if (!cond) failures.push(what); }
const { server, base } = await serveDist('/poslens');
const browser = await launchChromium([]);
const t0 = Date.now();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const errors = []; page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/#view=train&task=copy&pe=rope&preset=quick&run=1`);
  await page.waitForFunction(() => { const s = window.poslens && window.poslens.status(); return s && s.train_lab && s.train_lab.state === 'running'; }, null, { timeout: 120_000, polling: 250 });
  console.log(`  training after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // While it trains: frames keep coming when the reader moves the pointer, and stay short.
  const frameMs = [];
  let prev = await page.evaluate(() => window.poslens.status());
  let drawn = 0;
  for (let i = 0; i < 10; i++) {
    await page.mouse.move(700 + i * 5, 500);
    await page.waitForTimeout(300);
    const s = await page.evaluate(() => window.poslens.status());
    if (s.frames > prev.frames) drawn++;
    frameMs.push(s.frame_ms);
    prev = s;
  }
  const worst = Math.max(...frameMs);
  check(drawn >= 8, `the page keeps drawing while training (${drawn}/10 pointer moves answered)`);
  check(worst <= 33, `frames stay under 33 ms while training (worst ${worst.toFixed(1)} ms)`);
  const tTrain = Date.now();
  await page.waitForFunction(() => { const t = window.poslens.status().train_lab; return t.state === 'done' || t.state === 'error'; }, null, { timeout: 600_000, polling: 500 });
  const s = await page.evaluate(() => window.poslens.status());
  const t = s.train_lab;
  console.log(`  trained ${t.steps} steps in ${((Date.now() - tTrain) / 1000 + (tTrain - t0) / 1000).toFixed(0)} s from page load (${t.steps_per_s.toFixed(1)} steps/s on burn ${t.backend})`);
  check(t.state === 'done' && !t.error, `the run finished (${t.state}${t.error ? ': ' + t.error : ''})`);
  check(t.loss < t.first_loss / 3, `the loss fell (${t.first_loss.toFixed(3)} → ${t.loss.toFixed(3)})`);
  check(t.exact_match >= THRESHOLD, `in-distribution exact match ${(100 * t.exact_match).toFixed(1)} % ≥ ${100 * THRESHOLD} %`);
  await page.waitForFunction(() => { const t = window.poslens.status().train_lab; return t.curve && t.probe_len; }, null, { timeout: 120_000, polling: 500 });
  const c = (await page.evaluate(() => window.poslens.status())).train_lab;
  check(c.curve.length.length >= 2, `after training: accuracy at ${c.curve.length.join(', ')} tokens (${c.curve.exact_match.map((x) => x === null ? '—' : (100 * x).toFixed(0) + ' %').join(', ')})`);
  await page.screenshot({ path: path.join(ROOT, 'artifacts', 'e2e-train.png') });
  // Export the weights with the button and evaluate them natively.
  const r = c.export_button;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poslens-train-'));
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  await page.mouse.click(r[0] + r[2] / 2, r[1] + r[3] / 2);
  await page.waitForFunction(() => { const t = window.poslens.status().train_lab; return t.export; }, null, { timeout: 120_000, polling: 250 });
  await page.waitForTimeout(500);
  for (const d of downloads) await d.saveAs(path.join(dir, d.suggestedFilename()));
  const files = fs.readdirSync(dir);
  check(files.includes('copy-rope.plw') && files.includes('copy-rope.json'), `the export downloads copy-rope.plw + .json (${files.join(', ')})`);
  if (files.includes('copy-rope.json') && fs.existsSync(BIN)) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'copy-rope.json'), 'utf8'));
    const out = JSON.parse(execFileSync(BIN, ['eval', '--model', path.join(dir, 'copy-rope'), '--lengths', String(meta.train_len), '--samples', '128', '--seed', '4321'], { encoding: 'utf8' }));
    const em = out.exact_match[0];
    check(em === meta.in_distribution_exact_match, `poslens eval reads the exported model: ${(100 * em).toFixed(1)} % = the page's ${(100 * meta.in_distribution_exact_match).toFixed(1)} %`);
  } else if (!fs.existsSync(BIN)) {
    check(false, `native poslens binary missing at ${BIN} (run cargo build)`);
  }
  // The trained model in the Model lab: straight from the Train lab, then from the exported
  // files (a drop of a mismatched pair is refused, the file picker loads the right one).
  const o = c.open_in_model_lab_button;
  await page.mouse.click(o[0] + o[2] / 2, o[1] + o[3] / 2);
  const ready = () => { const s = window.poslens.status(); const m = s.model_lab; return s.view === 'model' && m && m.source === 'yours' && !m.busy && m.exact_match !== null && m.exact_match !== undefined; };
  await page.waitForFunction(ready, null, { timeout: 180_000, polling: 250 });
  await page.mouse.click(1200, 30);
  await page.keyboard.press('ArrowLeft'); // N halves to the model's L_train (16)
  await page.waitForFunction(() => { const m = window.poslens.status().model_lab; return m.seq_len === 16 && !m.busy && m.exact_match !== null; }, null, { timeout: 120_000, polling: 250 });
  const m1 = (await page.evaluate(() => window.poslens.status())).model_lab;
  check(m1.loaded_model === 'yours/copy-rope' && m1.exact_match >= THRESHOLD - 0.1, `"Open in the Model lab" shows the trained model: ${m1.loaded_model}, ${(100 * m1.exact_match).toFixed(0)} % exact match at N = ${m1.seq_len}`);
  if (files.includes('copy-rope.json')) {
    const json = fs.readFileSync(path.join(dir, 'copy-rope.json')).toString('base64');
    const plw = fs.readFileSync(path.join(dir, 'copy-rope.plw'));
    const bad = Buffer.from(plw); bad[bad.length - 3] ^= 0x40;
    await page.evaluate(([json, plw]) => {
      const file = (b64, name) => new File([Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))], name);
      const dt = new DataTransfer();
      dt.items.add(file(json, 'copy-rope.json'));
      dt.items.add(file(plw, 'copy-rope.plw'));
      document.querySelector('canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [json, bad.toString('base64')]);
    await page.waitForFunction(() => window.poslens.status().model_lab.files_message, null, { timeout: 30_000, polling: 250 });
    const m2 = (await page.evaluate(() => window.poslens.status())).model_lab;
    check(/FNV-1a/.test(m2.files_message), `a dropped pair whose weights were altered is refused: "${m2.files_message}"`);
    // The real button and the browser's real file picker. On two busy cores a click can land
    // while the page is between frames: try up to three times, reading the button anew.
    let chooser = null;
    for (let attempt = 0; attempt < 3 && !chooser; attempt++) {
      const b = (await page.evaluate(() => window.poslens.status())).model_lab.open_button;
      const waiting = page.waitForEvent('filechooser', { timeout: 8_000 }).catch(() => null);
      await page.mouse.click(b[0] + b[2] / 2, b[1] + b[3] / 2);
      chooser = await waiting;
    }
    check(chooser !== null, 'the Model lab\'s "Open .plw + .json…" button opens the browser\'s file picker');
    await chooser.setFiles([path.join(dir, 'copy-rope.plw'), path.join(dir, 'copy-rope.json')]);
    await page.waitForFunction(() => { const m = window.poslens.status().model_lab; return !m.files_message && !m.busy && m.exact_match !== null; }, null, { timeout: 120_000, polling: 250 });
    const m3 = (await page.evaluate(() => window.poslens.status())).model_lab;
    check(m3.source === 'yours' && m3.exact_match === m1.exact_match, `the exported files open through the file picker: ${m3.loaded_model}, ${(100 * m3.exact_match).toFixed(0)} % at N = ${m3.seq_len}`);
    await page.screenshot({ path: path.join(ROOT, 'artifacts', 'e2e-train-model-lab.png') });
  }
  const s4 = await page.evaluate(() => window.poslens.status());
  check(errors.length === 0 && s4.errors.length === 0, `no page errors (${JSON.stringify(errors.concat(s4.errors))})`);
} catch (e) {
  check(false, `train lab: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
  server.close();
}
if (failures.length) { console.error(`\n${failures.length} Train-lab check(s) failed`); process.exit(1); }
console.log('\nTrain lab in the browser: all checks passed');
