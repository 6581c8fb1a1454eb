// Browser test of how the page ships (WebGL2 path, no GPU flags; served under /poslens/):
//   - embed: a blog post holds an <iframe> of a view with embed=1 at 640×400 and 900×600; the
//     view draws, shows its title, its length slider and an "open in PosLens" link, and
//     answers a drag;
//   - phone: Chromium's mobile emulation at 390×844 with touch; compact layout, drawer closed,
//     the length slider dragged with a finger, no sideways scrolling, the drawer opens on tap;
//   - failure: when the wasm cannot be downloaded, the page says so instead of staying blank;
//   - loading: index.html shows a progress bar while the wasm downloads;
//   - the guided tour: the default tour walked from its link to its end, by button and by key,
//     every step drawing its view without errors; presenter mode (high contrast, 1.5× scale).
import path from 'node:path';
import fs from 'node:fs';
import { PNG } from 'pngjs';
import { ROOT, launchChromium, serveDist } from './harness.mjs';

const ART = path.join(ROOT, 'artifacts');
const TIMEOUT = 180_000;
const failures = [];
function check(cond, what) { console.log(`  ${cond ? 'ok  ' : 'FAIL'} ${what}`); if (!cond) failures.push(what); }
function lumStd(buf) {
  const png = PNG.sync.read(buf); let s = 0, s2 = 0; const n = png.width * png.height;
  for (let i = 0; i < png.data.length; i += 4) { const l = 0.2126 * png.data[i] + 0.7152 * png.data[i + 1] + 0.0722 * png.data[i + 2]; s += l; s2 += l * l; }
  return Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2));
}
const ready = () => window.poslens && window.poslens.status().ready && window.poslens.status().frames > 2;

const BLOG = (w, h, hash) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>A blog post</title>
<style>body{font:17px Georgia,serif;max-width:${w + 40}px;margin:40px auto;color:#222}</style></head><body>
<h1>Why RoPE fails past its training length</h1><p>Drag the length below past the training length.</p>
<iframe id="poslens" src="/poslens/#${hash}" width="${w}" height="${h}" style="border:1px solid #ccc;border-radius:6px" loading="lazy" title="PosLens: attention with ALiBi"></iframe>
<p>The figure is live.</p></body></html>`;

fs.mkdirSync(ART, { recursive: true });
const pages = {
  '/blog/640.html': BLOG(640, 400, 'view=attention&len=64&train=128&scheme=alibi&embed=1'),
  '/blog/900.html': BLOG(900, 600, 'view=rope&embed=1'),
};
const { server, base } = await serveDist('/poslens', pages);
const origin = base.replace(/\/poslens$/, '');
const browser = await launchChromium([]);
try {
  // --- Embed in a blog post -------------------------------------------------------------------
  for (const [w, h] of [[640, 400], [900, 600]]) {
    console.log(`\n== embed ${w}×${h}`);
    const page = await browser.newPage({ viewport: { width: w + 120, height: h + 300 } });
    const errors = []; page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${origin}/blog/${w}.html`);
    const frame = page.frames().find((f) => f.url().includes('/poslens/')) || (await (await page.$('#poslens')).contentFrame());
    await frame.waitForFunction(ready, null, { timeout: TIMEOUT, polling: 250 });
    await page.waitForTimeout(500);
    const s = await frame.evaluate(() => window.poslens.status());
    const box = await (await page.$('#poslens')).boundingBox();
    const shot = await page.screenshot({ path: path.join(ART, `layout-embed-${w}x${h}.png`), clip: box });
    check(s.layout === 'compact' && s.drawer_open === false, `compact layout, drawer closed (${s.layout}, ${s.drawer_open})`);
    check(Array.isArray(s.controls.seq_len) && Array.isArray(s.controls.open_full), `length slider and "open in PosLens" link shown (${Object.keys(s.controls)})`);
    const r = s.controls.seq_len;
    check(r && r[0] >= 0 && r[1] >= 0 && r[0] + r[2] <= w && r[1] + r[3] <= 80, `the slider fits in the frame's top bar (${r && r.map(Math.round)})`);
    check(lumStd(shot) > 20 && s.errors.length === 0 && errors.length === 0, `the embedded view draws, no errors (${JSON.stringify(s.errors.concat(errors))})`);
    // Drag the slider inside the iframe with the real mouse.
    // From the left end to 80 % of the slider (egui puts the value there: log scale).
    const y = box.y + r[1] + r[3] / 2, x0 = box.x + r[0] + 4, x1 = box.x + r[0] + 0.8 * r[2];
    await page.mouse.move(x0, y); await page.mouse.down();
    for (let i = 1; i <= 12; i++) { await page.mouse.move(x0 + (x1 - x0) * i / 12, y); await page.waitForTimeout(30); }
    await page.mouse.up();
    await page.waitForTimeout(600);
    const s2 = await frame.evaluate(() => window.poslens.status());
    check(s2.seq_len > s.seq_len && s2.errors.length === 0, `a drag in the iframe changes the length (${s.seq_len} → ${s2.seq_len})`);
    check(s2.state_hash.includes('embed=1'), `the iframe keeps embed=1 in its state (${s2.state_hash})`);
    await page.close();
  }

  // --- Phone ------------------------------------------------------------------------------------
  console.log('\n== phone 390×844 (mobile emulation, touch)');
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  const errors = []; page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/#view=attention&len=64&scheme=rope`);
  await page.waitForFunction(ready, null, { timeout: TIMEOUT, polling: 250 });
  await page.waitForTimeout(500);
  const p1 = await page.evaluate(() => window.poslens.status());
  const shot = await page.screenshot({ path: path.join(ART, 'layout-phone.png') });
  check(p1.layout === 'compact' && !p1.drawer_open, `phone: compact layout with the drawer closed (${p1.layout})`);
  check(lumStd(shot) > 20 && p1.errors.length === 0, 'phone: the view draws');
  const scroll = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  check(scroll.sw <= scroll.cw, `phone: no sideways scrolling (scrollWidth ${scroll.sw}, width ${scroll.cw})`);
  // A finger drag on the length slider (CDP touch events, as a phone sends them).
  const cdp = await ctx.newCDPSession(page);
  const r = p1.controls.seq_len;
  const ty = r[1] + r[3] / 2; let tx = r[0] + 4;
  const touch = (type, x) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y: ty }] });
  await touch('touchStart', tx);
  for (let i = 1; i <= 12; i++) { tx += 10; await touch('touchMove', tx); await page.waitForTimeout(30); }
  await touch('touchEnd', tx);
  await page.waitForTimeout(600);
  const p2 = await page.evaluate(() => window.poslens.status());
  check(p2.seq_len > p1.seq_len, `phone: a finger drag on the slider changes the length (${p1.seq_len} → ${p2.seq_len})`);
  // Tap the drawer button: the full controls slide in.
  const d = p2.controls.drawer;
  await page.touchscreen.tap(d[0] + d[2] / 2, d[1] + d[3] / 2);
  await page.waitForTimeout(600);
  const p3 = await page.evaluate(() => window.poslens.status());
  await page.screenshot({ path: path.join(ART, 'layout-phone-drawer.png') });
  check(p3.drawer_open === true && p3.errors.length === 0 && errors.length === 0, `phone: tapping ☰ opens the controls drawer (${p3.drawer_open})`);
  await ctx.close();

  // --- The guided tour --------------------------------------------------------------------------
  console.log('\n== guided tour (default) and presenter mode');
  const tour = JSON.parse(fs.readFileSync(path.join(ROOT, 'assets', 'tours', 'intro.json'), 'utf8'));
  const tp = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const tourErrors = []; tp.on('pageerror', (e) => tourErrors.push(e.message));
  await tp.goto(`${base}/#tour=intro&step=1`);
  await tp.waitForFunction(ready, null, { timeout: TIMEOUT, polling: 250 });
  let walked = 0;
  for (let i = 1; i <= tour.steps.length; i++) {
    const view = /view=([a-z]+)/.exec(tour.steps[i - 1].state)[1];
    await tp.waitForFunction(([i, view]) => { const s = window.poslens.status(); return s.tour && s.tour.step === i && s.view === view; }, [i, view], { timeout: 30_000, polling: 200 }).catch(() => {});
    await tp.waitForTimeout(700);
    const s = await tp.evaluate(() => window.poslens.status());
    const std = lumStd(await tp.screenshot({ path: path.join(ART, `tour-step-${i}.png`) }));
    const ok = s.tour && s.tour.step === i && s.tour.steps === tour.steps.length && s.view === view && s.errors.length === 0 && std > 20 && s.link_notes === 0 && s.state_hash.includes(`tour=intro&step=${i}`);
    check(ok, `tour step ${i}/${tour.steps.length} "${s.tour && s.tour.step_title}": view ${s.view}, drawn, link ${s.state_hash.replace(/^v=1&/, '')}, errors ${JSON.stringify(s.errors)}`);
    if (ok) walked++;
    if (i === tour.steps.length) break;
    if (i % 2 === 1) {
      const r = s.controls.tour_next; // the Next button, clicked for real
      await tp.mouse.click(r[0] + r[2] / 2, r[1] + r[3] / 2);
    } else {
      await tp.mouse.click(1200, 30); // empty space: no widget holds the keyboard
      await tp.keyboard.press('PageDown');
    }
  }
  check(walked === tour.steps.length, `the whole default tour walked (${walked}/${tour.steps.length} steps, Next button and Page Down)`);
  await tp.keyboard.press('PageUp');
  await tp.waitForTimeout(400);
  const back = await tp.evaluate(() => window.poslens.status());
  check(back.tour && back.tour.step === tour.steps.length - 1, `Page Up goes back a step (${back.tour && back.tour.step})`);
  await tp.keyboard.press('Escape');
  await tp.waitForTimeout(400);
  const ended = await tp.evaluate(() => window.poslens.status());
  check(ended.tour === null && !ended.state_hash.includes('tour='), `Escape ends the tour (${ended.state_hash})`);
  // Presenter mode from a link.
  await tp.goto(`${base}/#view=attention&len=512&scheme=alibi&train=256&theme=contrast&scale=1.5&tour=intro&step=4`);
  await tp.waitForTimeout(1500);
  const pm = await tp.evaluate(() => window.poslens.status());
  const pstd = lumStd(await tp.screenshot({ path: path.join(ART, 'presenter.png') }));
  check(pm.scale === 1.5 && pm.state_hash.includes('theme=contrast') && pm.tour && pm.tour.step === 4 && pm.errors.length === 0 && pstd > 20,
    `presenter mode: scale ${pm.scale}, ${pm.state_hash.match(/theme=\w+/)}, tour step ${pm.tour && pm.tour.step}, drawn`);
  // SVG export: the button downloads a figure the browser parses as SVG (vector text, one map).
  await tp.goto(`${base}/#view=attention&len=512&scheme=alibi&train=256`);
  await tp.waitForFunction(() => { const s = window.poslens.status(); return s.scale === 1 && s.view === 'attention' && s.heatmap_engine !== ''; }, null, { timeout: 60_000 });
  await tp.waitForTimeout(500);
  const ex = (await tp.evaluate(() => window.poslens.status())).controls.export_svg;
  const [dl] = await Promise.all([tp.waitForEvent('download', { timeout: 30_000 }), tp.mouse.click(ex[0] + ex[2] / 2, ex[1] + ex[3] / 2)]);
  const svgFile = path.join(ART, 'export-attention.svg');
  await dl.saveAs(svgFile);
  const svgText = fs.readFileSync(svgFile, 'utf8');
  const parsed = await tp.evaluate((t) => {
    const d = new DOMParser().parseFromString(t, 'image/svg+xml');
    return { errors: d.getElementsByTagName('parsererror').length, root: d.documentElement.nodeName, texts: d.getElementsByTagName('text').length, images: d.getElementsByTagName('image').length };
  }, svgText);
  check(dl.suggestedFilename().endsWith('.svg') && parsed.errors === 0 && parsed.root === 'svg' && parsed.texts >= 10 && parsed.images === 1,
    `SVG export: ${dl.suggestedFilename()} (${(svgText.length / 1024).toFixed(0)} kB) parses as SVG: ${parsed.texts} vector text elements, ${parsed.images} embedded map`);
  // RoPE clocks from the trained recall-rope model (the compute worker runs a real sample).
  await tp.goto(`${base}/#view=rope&len=30&real=1&layer=1`);
  await tp.waitForFunction(() => { const s = window.poslens.status(); return s.view === 'rope' && s.model_clocks && s.model_clocks.ready; }, null, { timeout: 120_000, polling: 250 }).catch(() => {});
  await tp.waitForTimeout(500);
  const mc = await tp.evaluate(() => window.poslens.status());
  await tp.screenshot({ path: path.join(ART, 'rope-model-clocks.png') });
  const m = mc.model_clocks || {};
  check(m.ready && m.layer === 1 && m.pos === 30 && Array.isArray(m.strongest_pair_by_head) && m.strongest_pair_by_head.length === m.heads && mc.errors.length === 0,
    `RoPE view: the trained recall-rope model's own clocks (layer ${m.layer}, position ${m.pos}, ${m.heads} heads × ${m.pairs} pairs; strongest query pair per head ${JSON.stringify(m.strongest_pair_by_head)})`);
  check(tourErrors.length === 0, `tour: no page errors (${JSON.stringify(tourErrors)})`);
  await tp.close();

  // --- Reduced motion ---------------------------------------------------------------------------
  console.log('\n== prefers-reduced-motion');
  const rm = await browser.newPage({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
  await rm.goto(`${base}/#view=rope&len=100`);
  await rm.waitForFunction(ready, null, { timeout: TIMEOUT, polling: 250 });
  const rmp = (await rm.evaluate(() => window.poslens.status()));
  check(rmp.reduced_motion === true && rmp.playing === false, `reduced motion: the RoPE view's play animation is off (reduced_motion ${rmp.reduced_motion}, playing ${rmp.playing})`);
  await rm.close();

  // --- Loading and failure ------------------------------------------------------------------------
  console.log('\n== loading and failure');
  const fp = await browser.newPage({ viewport: { width: 800, height: 600 } });
  await fp.route('**/poslens-*_bg.wasm', (route) => route.fulfill({ status: 404, body: 'gone' }));
  await fp.goto(`${base}/`);
  await fp.waitForFunction(() => document.getElementById('loading') && /could not/i.test(document.getElementById('loading').textContent), null, { timeout: 30_000 }).catch(() => {});
  const text = await fp.evaluate(() => (document.getElementById('loading') || {}).textContent || '');
  await fp.screenshot({ path: path.join(ART, 'layout-wasm-missing.png') });
  check(/could not start/i.test(text) && /HTTP 404|download/i.test(text), `a missing wasm gives a clear message (${text.replace(/\s+/g, ' ').slice(0, 160)})`);
  await fp.unroute('**/poslens-*_bg.wasm');
  await fp.close();
  // A browser without WebAssembly SIMD: index.html's probe module fails to validate, and the
  // app's wasm (built with simd128) would fail to compile — the page says why, not "compile error".
  const ns = await browser.newPage({ viewport: { width: 800, height: 600 } });
  await ns.addInitScript(() => { WebAssembly.validate = () => false; });
  await ns.route('**/poslens-*_bg.wasm', (route) => route.fulfill({ status: 200, contentType: 'application/wasm', body: 'not a module' }));
  await ns.goto(`${base}/`);
  await ns.waitForFunction(() => document.getElementById('loading') && /could not/i.test(document.getElementById('loading').textContent), null, { timeout: 30_000 }).catch(() => {});
  const nsText = await ns.evaluate(() => (document.getElementById('loading') || {}).textContent || '');
  await ns.screenshot({ path: path.join(ART, 'layout-no-simd.png') });
  check(/could not start/i.test(nsText) && /no SIMD/.test(nsText) && /Safari 16\.4/.test(nsText), `a browser without wasm SIMD is told so (${nsText.replace(/\s+/g, ' ').slice(0, 200)})`);
  await ns.close();
  const fp2 = await browser.newPage({ viewport: { width: 800, height: 600 } });
  // Slow the wasm down: the progress bar reports bytes as they arrive.
  await fp2.route('**/poslens-*_bg.wasm', async (route) => { const r = await route.fetch(); await new Promise((res) => setTimeout(res, 200)); await route.fulfill({ response: r }); });
  // Record every text the loading line shows.
  await fp2.addInitScript(() => {
    window.__progress = [];
    document.addEventListener('DOMContentLoaded', () => {
      const t = document.getElementById('loading-text');
      if (t) new MutationObserver(() => window.__progress.push(t.textContent)).observe(t, { childList: true, characterData: true, subtree: true });
    });
  });
  await fp2.goto(`${base}/`);
  const bar = await fp2.evaluate(() => document.getElementById('loading-bar') !== null);
  await fp2.waitForFunction(ready, null, { timeout: TIMEOUT, polling: 250 });
  const progress = await fp2.evaluate(() => window.__progress);
  const gone = await fp2.evaluate(() => document.getElementById('loading') === null);
  check(bar && gone && progress.some((t) => /\d\.\d \/ \d+\.\d MB/.test(t)),
    `index.html shows a progress bar with bytes loaded, removed once the app runs (${progress.length} updates, last "${progress[progress.length - 1]}")`);
  await fp2.close();
} catch (e) {
  check(false, `layout test: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
  server.close();
}
if (failures.length) { console.error(`\n${failures.length} layout check(s) failed`); process.exit(1); }
console.log('\nlayout, embed and phone: all checks passed');
