// How fast the Threats Overview is in a real browser: Debian's Chromium (headless, via
// playwright-core from web/node_modules) against a running `threatdesk serve`.
//
//   node bench/web/overview_ui_bench.mjs BASE_URL EMAIL PASSWORD [runs=20]
//
// Measures, each `runs` times, from the browser's point of view:
//   open     — a full page load of /threats until the list rows are on screen (navigation start
//              to rows present, from performance.now() in the page)
//   chip     — a click on the High chip until the list shows only the new filter's rows
//   next     — "Next ›" until page 2's rows are on screen
//   poll     — one background refresh (overview request + patching the rows), from the
//              overview request's Resource Timing
// and prints p50 / p95 in milliseconds. No assertions: figures go to docs/benchmarks.md.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(resolve(dirname(fileURLToPath(import.meta.url)), '../../web/package.json'));
const { chromium } = require('playwright-core');

const [base, email, password, runsArg] = process.argv.slice(2);
if (!password) {
  console.error('usage: overview_ui_bench.mjs BASE_URL EMAIL PASSWORD [runs]');
  process.exit(2);
}
const runs = Number(runsArg ?? 20);
const browser = await chromium.launch({ executablePath: process.env.TD_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(`${base}/login`);
await page.getByLabel('E-mail').fill(email);
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.waitForURL(/\/threats/);

const rowsShown = 'main[id="main"]:not([aria-busy]) table.threats tbody tr[data-id]';
const samples = { open: [], chip: [], next: [], poll: [] };
let total = '';
for (let i = 0; i < runs + 2; i++) {
  const warm = i < 2;
  await page.goto(`${base}/threats`);
  await page.waitForSelector(rowsShown);
  const open = await page.evaluate(() => performance.now());
  total = (await page.locator('#list-title').textContent()) ?? '';

  const t0 = await page.evaluate(() => performance.now());
  await page.locator('button.chip.sev-high').click();
  await page.waitForFunction(() => {
    const main = document.getElementById('main');
    const sevs = [...document.querySelectorAll('table.threats tbody tr[data-id] .sev')];
    return main && !main.hasAttribute('aria-busy') && sevs.length > 0 && sevs.every((s) => s.textContent === 'High');
  });
  const chip = (await page.evaluate(() => performance.now())) - t0;

  const first = await page.locator('table.threats tbody tr[data-id]').first().getAttribute('data-id');
  const t1 = await page.evaluate(() => performance.now());
  await page.getByRole('button', { name: 'Next ›' }).click();
  await page.waitForFunction((id) => {
    const main = document.getElementById('main');
    const row = document.querySelector('table.threats tbody tr[data-id]');
    return main && !main.hasAttribute('aria-busy') && row && row.getAttribute('data-id') !== id;
  }, first);
  const next = (await page.evaluate(() => performance.now())) - t1;

  // Wait for one background refresh and read its request's duration.
  await page.evaluate(() => performance.clearResourceTimings());
  await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => e.name.includes('/api/v1/overview')), null, { timeout: 15000 });
  const poll = await page.evaluate(() => performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/overview')).duration);
  if (!warm) {
    samples.open.push(open);
    samples.chip.push(chip);
    samples.next.push(next);
    samples.poll.push(poll);
  }
}
await browser.close();

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
};
console.log(`${total} — ${runs} runs`);
console.log('measure  p50 ms  p95 ms');
for (const [k, xs] of Object.entries(samples)) console.log(`${k.padEnd(7)} ${q(xs, 0.5).toFixed(0).padStart(7)} ${q(xs, 0.95).toFixed(0).padStart(7)}`);
