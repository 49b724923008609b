// Takes the screenshot of the Threats Overview that README.md and docs/ui.md show:
//   node web/tests/e2e/screenshot.mjs http://127.0.0.1:8080 admin@demo.local PASSWORD docs/img/overview.png
// against a server started with `make run` (demo data).
import { chromium } from 'playwright-core';

const [base, email, password, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: screenshot.mjs BASE_URL EMAIL PASSWORD OUT.png');
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
await page.goto(`${base}/threats?open=true`);
await page.waitForSelector('main[id="main"]:not([aria-busy])');
await page.waitForSelector('table.threats tbody tr[data-id]');
// Two rows selected, so the Quick Action toolbar shows too.
await page.locator('table.threats tbody tr[data-id] input.row-check').nth(0).check();
await page.locator('table.threats tbody tr[data-id] input.row-check').nth(1).check();
await page.mouse.move(0, 0);
await page.screenshot({ path: out });
await browser.close();
