// Takes the screenshots that README.md and docs/ui.md show, against a server started with
// `make run` (demo data):
//   node web/tests/e2e/screenshot.mjs http://127.0.0.1:8080 admin@demo.local PASSWORD docs/img/overview.png
//   node web/tests/e2e/screenshot.mjs http://127.0.0.1:8080 admin@demo.local PASSWORD docs/img/report-builder.png builder
import { chromium } from 'playwright-core';

const [base, email, password, out, view = 'overview'] = process.argv.slice(2);
if (!out) {
  console.error('usage: screenshot.mjs BASE_URL EMAIL PASSWORD OUT.png [overview|builder]');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.TD_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1500 }, colorScheme: 'light' });
await page.goto(`${base}/login`);
await page.getByLabel('E-mail').fill(email);
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.waitForURL(/\/threats/);
if (view === 'builder') {
  // The weekly template in the builder, a widget selected, the preview rendered beside it.
  await page.setViewportSize({ width: 1440, height: 1000 });
  await page.goto(`${base}/reports/new?template=weekly-soc-summary`);
  await page.locator('.validity[data-state="valid"]').waitFor();
  await page.locator('.builder-widget[data-id="by-source"]').click();
  await page.frameLocator('.preview-pane iframe.live').locator('section#widget-critical-open').waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.mouse.move(0, 0);
  await page.screenshot({ path: out });
  await browser.close();
  process.exit(0);
}
await page.goto(`${base}/threats?open=true`);
await page.waitForSelector('main[id="main"]:not([aria-busy])');
await page.waitForSelector('table.threats tbody tr[data-id]');
// Two rows selected, so the Quick Action toolbar shows too.
await page.locator('table.threats tbody tr[data-id] input.row-check').nth(0).check();
await page.locator('table.threats tbody tr[data-id] input.row-check').nth(1).check();
await page.mouse.move(0, 0);
await page.screenshot({ path: out });
await browser.close();
