import { WEBGPU_ARGS, launchChromium, serveDist } from './harness.mjs';
const { server, base } = await serveDist('/poslens');
const browser = await launchChromium(WEBGPU_ARGS);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log('console:', m.type(), m.text().slice(0, 200)); });
  await page.goto(`${base}/?heatmaps=gpu#view=sinusoidal&len=64&d=128&q=32`);
  await page.waitForFunction(() => window.poslens && window.poslens.status().compute_check, null, { timeout: 180_000, polling: 250 });
  for (let round = 0; round < 3; round++) {
    for (const view of ['attention', 'compare', 'rope', 'extension', 'bias']) {
      const t0 = Date.now();
      await page.goto(`${base}/?heatmaps=gpu#view=${view}&len=200`);
      try {
        await page.waitForFunction((v) => window.poslens && window.poslens.status().ready && window.poslens.status().view === v, view, { timeout: 60_000 });
        const s = await page.evaluate(() => window.poslens.status());
        console.log(round, view, 'ready after', Date.now() - t0, 'ms', s.heatmap_engine, s.errors.length);
      } catch (e) {
        const s = await page.evaluate(() => window.poslens && window.poslens.status()).catch(() => null);
        console.log(round, view, 'NOT READY', JSON.stringify(s).slice(0, 800));
      }
      if (view === 'attention') {
        await page.goto(`${base}/?heatmaps=gpu#view=attention&len=200&engine=gpu`);
        await page.waitForTimeout(1000);
      }
    }
  }
} finally { await browser.close(); server.close(); }
