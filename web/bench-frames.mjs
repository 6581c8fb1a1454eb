// The work budget, measured: the slowest frame after each hostile link (web/harness.mjs) and a
// few more heavy states, on the CPU path (WebGL2, no GPU flags), in headless Chromium.
// Usage: node web/bench-frames.mjs [runs=3]   (needs the `trunk build --release` output in dist/)
import { HOSTILE_LINKS, launchChromium, serveDist } from './harness.mjs';

const runs = Number(process.argv[2] || 3);
const links = [
  ...HOSTILE_LINKS,
  ['xPos, N 8192, bidirectional', 'view=attention&len=8192&hd=256&scheme=xpos&causal=0'],
  ['T5, N 8192, random tokens', 'view=attention&len=8192&hd=256&scheme=t5&content=random'],
  ['extension YaRN, N 8192', 'view=extension&len=8192&hd=256&method=yarn&factor=32'],
];
const { server, base } = await serveDist('/poslens');
const browser = await launchChromium([]);
const slowest = new Map(links.map(([what]) => [what, []]));
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${base}/#view=rope`);
  await page.waitForFunction(() => window.poslens && window.poslens.status().ready, null, { timeout: 180_000 });
  for (let r = 0; r < runs; r++) {
    for (const [what, hash] of links) {
      await page.goto(`${base}/#view=rope`);
      await page.waitForTimeout(500);
      await page.goto(`${base}/#${hash}`);
      await page.waitForTimeout(3000);
      const s = await page.evaluate(() => window.poslens.status());
      slowest.get(what).push(s.slowest_frame_ms);
    }
  }
} finally { await browser.close(); server.close(); }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`slowest frame after the link (ms), ${runs} run(s), CPU path (WebGL2), headless Chromium`);
console.log('| link | median | max |\n|---|---:|---:|');
for (const [what, xs] of slowest) console.log(`| ${what} | ${median(xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`);
