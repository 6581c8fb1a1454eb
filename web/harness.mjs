// Shared by the browser scripts (e2e.mjs, bench.mjs, screenshot.mjs): serve dist/ on 127.0.0.1
// and launch Debian's Chromium headless with the flags that work on these machines.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const DIST = path.join(ROOT, 'dist');
const CHROMIUM = process.env.POSLENS_CHROMIUM || '/usr/lib/chromium/chromium';
const COMMON_ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
/// WebGPU in software (SwiftShader) that can also present to a canvas.
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader'];
const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };

/// Serve dist/ on an ephemeral 127.0.0.1 port under `prefix` (e.g. '/poslens', as a GitHub
/// Pages project site is; '' for the root). Anything outside the prefix is a 404, so an absolute
/// URL in the build fails the tests. Resolves to { server, base, requests } (paths served).
/// `pages` maps extra absolute paths to HTML (e.g. a blog post holding an iframe of the app).
export async function serveDist(prefix = '', pages = {}) {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('dist/index.html missing: run `trunk build --release` first');
  const requests = [];
  const server = http.createServer((req, res) => {
    let url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push(url);
    if (pages[url]) { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(pages[url]); return; }
    if (!url.startsWith(prefix + '/')) { res.writeHead(404); res.end('not found (outside ' + prefix + '/)'); return; }
    url = url.slice(prefix.length);
    const file = path.join(DIST, url === '/' ? 'index.html' : url);
    if (!file.startsWith(DIST) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404); res.end('not found'); return; }
    res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream', 'Content-Length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${server.address().port}${prefix}`, requests };
}

/// Launch headless Chromium (a fresh profile each time) with `extraArgs`.
export function launchChromium(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...COMMON_ARGS, ...extraArgs] });
}

// Hostile links (issue #14): out-of-range, non-numeric, NaN, 1e309, huge, unicode,
// percent-encoded, duplicate keys, 10 kB values, 20 000 keys, and the heaviest maps a link can ask
// for. The browser test opens each (web/e2e.mjs); web/bench-frames.mjs times their frames.
export const HOSTILE_LINKS = [
  ['out of range', 'view=attention&len=99999999&hd=100000&head=-3&train=0'],
  ['non-numeric and NaN', 'view=compare&len=abc&hd=NaN&head=inf&content=%00'],
  ['1e309 and huge', 'view=extension&len=1e309&factor=1e309&base=-0&group=18446744073709551616'],
  ['unicode and percent-encoded', 'view=rope&len=%F0%9F%A6%80&q=%E2%88%9E&view=%2E%2E%2F'],
  ['duplicate keys', 'view=bias&len=64&len=128&len=4096&hd=8&hd=256'],
  ['10 kB value', `view=sinusoidal&len=${'9'.repeat(10_000)}`],
  ['20 000 unknown keys', 'view=attention&' + Array.from({ length: 20_000 }, () => 'x=1').join('&')],
  ['heavy map (17 G multiply-adds)', 'view=attention&len=8192&content=random&hd=256&causal=0'],
  ['heavy compare', 'view=compare&len=2048&hd=256&content=random'],
  ['heavy bias', 'view=bias&len=2048&hd=256&content=random'],
];
