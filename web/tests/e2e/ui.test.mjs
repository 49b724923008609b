// End-to-end tests of the web UI in a real browser: Debian's Chromium driven by playwright-core,
// against a real `threatdesk serve --demo` that this file starts on a free loopback port with a
// fresh SQLite database, and stops at the end. Every test saves a screenshot under $TD_E2E_OUT.
//
//   TD_BIN=build/x/threatdesk node --test web/tests/e2e/   (after scripts/build-web)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, '../..');
const bin = process.env.TD_BIN;
const chromiumPath = process.env.TD_CHROMIUM ?? '/usr/bin/chromium';
const outDir = resolve(process.env.TD_E2E_OUT ?? join(tmpdir(), 'threatdesk-e2e'));

let server;
let base;
let password;
let workDir;
let browser;
let context;
let page;
let project;
let shot = 0;

async function screenshot(p, name) {
  shot += 1;
  await p.screenshot({ path: join(outDir, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

// --threads 32: Chromium keeps up to six idle keep-alive connections per context, and each holds
// one of the server's worker threads until cpp-httplib's 5 s keep-alive timeout; with the
// default 8 threads and two browser contexts, requests wait up to 5 s for a free thread.
function startServer() {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(
      bin,
      ['serve', '--listen', '127.0.0.1:0', '--store', `sqlite:${join(workDir, 'td.db')}`, '--demo', '--web', join(webDir, 'dist'), '--threads', '32'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${out}\n${err.slice(-2000)}`)), 60000);
    proc.stderr.on('data', (d) => {
      err += d;
      if (err.length > 100000) err = err.slice(-50000);
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const pw = /with password (\S+) \(shown once/.exec(out);
      const url = /serving (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (pw && url) {
        clearTimeout(timer);
        password = pw[1];
        base = url[1];
        resolvePromise(proc);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}\n${err.slice(-2000)}`));
    });
  });
}

/** The API as the signed-in browser sees it (same cookie, CSRF header from /me). */
async function apiAs(p, method, path, body) {
  const me = await (await p.request.get(`${base}/api/v1/me`)).json();
  const res = await p.request.fetch(`${base}${path}`, {
    method,
    headers: { 'X-CSRF-Token': me.csrf_token ?? '', 'Content-Type': 'application/json' },
    data: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok(), `${method} ${path} → ${res.status()}: ${text}`);
  return text ? JSON.parse(text) : null;
}

async function login(p, email, pw) {
  await p.goto(`${base}/`);
  await p.waitForURL(/\/login/);
  await p.getByLabel('E-mail').fill(email);
  await p.getByLabel('Password').fill(pw);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL(/\/threats/);
  await settled(p);
}

/** Waits until the overview has loaded what its URL asks for. */
async function settled(p) {
  await p.waitForSelector('main[id="main"]:not([aria-busy])', { timeout: 20000 });
  await p.waitForSelector('table.threats tbody tr', { timeout: 20000 });
}

const rows = (p) => p.locator('table.threats tbody tr[data-id]');
const q = (params) => new URLSearchParams({ project, ...params }).toString();

before(async () => {
  assert.ok(bin && existsSync(bin), 'TD_BIN must name the threatdesk binary');
  assert.ok(existsSync(join(webDir, 'dist', 'index.html')), 'web/dist is missing: run scripts/build-web');
  mkdirSync(outDir, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), 'td-e2e-'));
  server = await startServer();
  server.removeAllListeners('exit');
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  if (server) {
    const exited = new Promise((r) => server.on('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test('signs in with the demo admin and lands on the overview', async () => {
  await page.goto(`${base}/login`);
  await page.getByLabel('E-mail').fill('admin@demo.local');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: /./ }).waitFor();
  await screenshot(page, 'login-error');
  await login(page, 'admin@demo.local', password);
  await page.getByRole('heading', { name: 'Threats Overview' }).waitFor();
  const me = await (await page.request.get(`${base}/api/v1/me`)).json();
  project = me.projects[0].name;
  await screenshot(page, 'overview');
});

test('overview counts match the API', async () => {
  const o = await (await page.request.get(`${base}/api/v1/overview?${q({})}`)).json();
  for (const [sev, n] of Object.entries(o.open_by_severity)) {
    assert.ok(n < 1000, 'demo counts are shown unabbreviated');
    assert.equal(await page.locator(`.chip-count[data-severity="${sev}"]`).textContent(), String(n), sev);
  }
  assert.equal(await page.locator('#list-title').textContent(), `Threats (${o.total})`);
  assert.equal(await rows(page).count(), Math.min(50, o.total));
  const firstId = await rows(page).first().getAttribute('data-id');
  assert.equal(Number(firstId), o.threats.items[0].id);
  // The timeline is a real chart with one series per severity.
  await page.locator('.chart canvas').first().waitFor();
  assert.equal(await page.locator('.chart .u-legend .u-series').count(), 6);
  await screenshot(page, 'counts');
});

test('a severity chip filters the list and the URL carries it', async () => {
  await page.locator('button.chip.sev-critical').click();
  await page.waitForURL(/severity=CRITICAL/);
  await settled(page);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('table.threats tbody tr[data-id] .sev')].every((e) => e.textContent === 'Critical'),
  );
  const api = await (await page.request.get(`${base}/api/v1/threats?${q({ severity: 'CRITICAL', limit: '1' })}`)).json();
  assert.equal(await page.locator('#list-title').textContent(), `Threats (${api.total})`);
  assert.equal(await page.locator('button.chip.sev-critical').getAttribute('aria-pressed'), 'true');
  await screenshot(page, 'chip-critical');
  // A shared link opens the same view.
  const shared = await context.newPage();
  await shared.goto(page.url());
  await settled(shared);
  assert.equal(await shared.locator('#list-title').textContent(), `Threats (${api.total})`);
  await shared.close();
});

test('dragging across the timeline zooms the time filter', async () => {
  await page.goto(`${base}/threats?${q({})}`);
  await settled(page);
  const box = await page.locator('.chart .u-over').boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForURL(/from=.*to=/);
  await settled(page);
  const url = new URL(page.url());
  const from = Date.parse(url.searchParams.get('from'));
  const to = Date.parse(url.searchParams.get('to'));
  assert.ok(from < to && to - from < 20 * 86400 * 1000, `${url.searchParams}`);
  const api = await (await page.request.get(`${base}/api/v1/threats?${q({ from: url.searchParams.get('from'), to: url.searchParams.get('to'), limit: '1' })}`)).json();
  await page.waitForFunction((n) => document.querySelector('#list-title')?.textContent === `Threats (${n})`, api.total);
  await screenshot(page, 'zoomed');
});

test('filter by group and state, then a breakdown bar narrows further', async () => {
  await page.goto(`${base}/threats?${q({})}`);
  await settled(page);
  await page.getByLabel('Group', { exact: true }).selectOption('L1 Support');
  await page.waitForURL(/group=L1\+Support/);
  await settled(page);
  await page.getByLabel('State', { exact: true }).selectOption('New');
  await page.waitForURL(/state=New/);
  await settled(page);
  const api = await (await page.request.get(`${base}/api/v1/threats?${q({ group: 'L1 Support', state: 'New', limit: '500' })}`)).json();
  assert.ok(api.total > 0, 'demo data has new threats in L1 Support');
  await page.waitForFunction((n) => document.querySelector('#list-title')?.textContent === `Threats (${n})`, api.total);
  const states = await page.locator('table.threats tbody tr[data-id] .state').allTextContents();
  assert.ok(states.every((s) => s === 'New'), states.join());
  // By Host: clicking the top bar filters the list by that host.
  const bar = page.locator('section[aria-label="By Host"] button.bar').first();
  const host = await bar.locator('.bar-name').textContent();
  await bar.click();
  await page.waitForURL(new RegExp(`host=${encodeURIComponent(host)}`));
  await settled(page);
  const byHost = await (await page.request.get(`${base}/api/v1/threats?${q({ group: 'L1 Support', state: 'New', host })}`)).json();
  await page.waitForFunction((n) => document.querySelector('#list-title')?.textContent === `Threats (${n})`, byHost.total);
  await screenshot(page, 'group-state-host');
});

test('a By Entity Group bar filters the list by that entity group', async () => {
  await page.goto(`${base}/threats?${q({})}`);
  await settled(page);
  const bar = page.locator('section[aria-label="By Entity Group"] button.bar').first();
  const group = (await bar.locator('.bar-name').textContent()).trim();
  await bar.click();
  await page.waitForURL(new RegExp(`entity_group=${encodeURIComponent(group).replace(/%20/g, '\\+')}`));
  await settled(page);
  const api = await (await page.request.get(`${base}/api/v1/threats?${q({ entity_group: group })}`)).json();
  assert.ok(api.total > 0, `demo threats in entity group ${group}`);
  assert.ok(api.items.every((t) => t.entity_group === group), 'the API filters by entity group');
  await page.waitForFunction((n) => document.querySelector('#list-title')?.textContent === `Threats (${n})`, api.total);
});

test('select two threats and change their state with the Quick Action toolbar', async () => {
  await page.goto(`${base}/threats?${q({ state: 'New' })}`);
  await settled(page);
  const ids = [await rows(page).nth(0).getAttribute('data-id'), await rows(page).nth(1).getAttribute('data-id')].map(Number);
  await rows(page).nth(0).locator('input.row-check').check();
  await rows(page).nth(1).locator('input.row-check').check();
  const toolbar = page.getByRole('toolbar', { name: 'Quick actions' });
  await toolbar.getByText('2 selected').waitFor();
  await toolbar.getByLabel('Action').selectOption('state');
  await toolbar.getByLabel('New state').selectOption('In Progress');
  await toolbar.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('status').getByText('Changed 2 of 2 threats.').waitFor();
  await screenshot(page, 'bulk-state');
  for (const id of ids) {
    const t = await (await page.request.get(`${base}/api/v1/threats/${id}?${q({})}`)).json();
    assert.equal(t.state, 'In Progress', `threat ${id}`);
  }
  // They left the "New" list.
  await page.waitForFunction((gone) => gone.every((id) => !document.querySelector(`tr[data-id="${id}"]`)), ids);
});

test('the keyboard moves, selects and searches (j/k, x, /)', async () => {
  await page.goto(`${base}/threats?${q({})}`);
  await settled(page);
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.keyboard.press('k');
  await page.keyboard.press('j');
  const second = await rows(page).nth(1).getAttribute('data-id');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.id), second);
  await page.keyboard.press('x');
  await page.getByRole('toolbar', { name: 'Quick actions' }).getByText('1 selected').waitFor();
  assert.equal(await rows(page).nth(1).locator('input.row-check').isChecked(), true);
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'filter-text');
  await screenshot(page, 'keyboard');
});

test('bulk-close a selection with an outcome', async () => {
  await page.goto(`${base}/threats?${q({ open: 'true', sort: 'score', order: 'asc' })}`);
  await settled(page);
  const id = Number(await rows(page).first().getAttribute('data-id'));
  await rows(page).first().locator('input.row-check').check();
  const toolbar = page.getByRole('toolbar', { name: 'Quick actions' });
  await toolbar.getByLabel('Action').selectOption('close');
  await toolbar.getByLabel('Outcome').selectOption({ index: 0 });
  const outcome = await toolbar.getByLabel('Outcome').inputValue();
  await toolbar.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('status').getByText('Changed 1 of 1 threat.').waitFor();
  const t = await (await page.request.get(`${base}/api/v1/threats/${id}?${q({})}`)).json();
  assert.equal(t.closed, true);
  assert.equal(t.outcome, outcome);
  await screenshot(page, 'bulk-close');
});

test('threat detail shows the evidence, searchable, and a note lands in the timeline', async () => {
  const created = await apiAs(page, 'POST', `/api/v1/threats?${q({})}`, {
    name: 'E2E detail: LSASS read by mimikatz',
    severity: 'HIGH',
    host: 'WS-E2E',
    entity: { type: 'host', value: 'WS-E2E' },
    evidence: { process: { image: 'C:\\Tools\\mimikatz.exe', pid: 4242 }, target: 'lsass.exe' },
  });
  await page.goto(`${base}/threats?${q({ text: 'E2E detail' })}`);
  await settled(page);
  await rows(page).first().getByRole('link').click();
  await page.waitForURL(new RegExp(`/threats/${created.id}`));
  await page.getByRole('heading', { name: 'E2E detail: LSASS read by mimikatz' }).waitFor();
  const evidence = page.locator('pre.evidence').first();
  assert.match(await evidence.textContent(), /"image": "C:\\\\Tools\\\\mimikatz.exe"/);
  assert.match(await evidence.textContent(), /"pid": 4242/);
  await page.getByLabel('Search the evidence').fill('LSASS');
  assert.equal(await evidence.locator('mark').count(), 1);
  await page.getByText('1 match').waitFor();
  await page.getByLabel('Add a note').fill('Isolated WS-E2E; reimaging.');
  await page.getByRole('button', { name: 'Add note' }).click();
  await page.locator('.timeline-list blockquote.note', { hasText: 'Isolated WS-E2E; reimaging.' }).waitFor();
  await page.locator('.timeline-list', { hasText: 'created' }).waitFor();
  await screenshot(page, 'detail');
});

test('a threat created through the API appears without a reload, keeping the selection', async () => {
  await page.goto(`${base}/threats?${q({})}`);
  await settled(page);
  await page.evaluate(() => {
    window.__noReload = true;
  });
  const keep = await rows(page).nth(2).getAttribute('data-id');
  await rows(page).nth(2).locator('input.row-check').check();
  const name = `E2E live ${Date.now()}`;
  await apiAs(page, 'POST', `/api/v1/threats?${q({})}`, { name, severity: 'CRITICAL', host: 'SRV-LIVE' });
  await page.locator('table.threats tbody tr', { hasText: name }).waitFor({ timeout: 20000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page did not reload');
  assert.equal(await page.locator(`tr[data-id="${keep}"] input.row-check`).isChecked(), true, 'selection kept');
  await page.getByRole('toolbar', { name: 'Quick actions' }).getByText('1 selected').waitFor();
  await screenshot(page, 'live-update');
});

test('a viewer sees threats but is offered no changes, and signs out', async () => {
  const email = `viewer${Date.now()}@demo.local`;
  const pw = 'viewer-password-123';
  await apiAs(page, 'POST', '/api/v1/users', { email, role: 'readonly', password: pw });
  const viewerContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const viewer = await viewerContext.newPage();
  await login(viewer, email, pw);
  assert.equal(await viewer.locator('input.row-check').count(), 0);
  assert.equal(await viewer.getByRole('toolbar', { name: 'Quick actions' }).isVisible(), false);
  await screenshot(viewer, 'viewer-narrow');
  await rows(viewer).first().getByRole('link').click();
  await viewer.locator('pre.evidence').waitFor();
  assert.equal(await viewer.getByRole('button', { name: 'Add note' }).count(), 0);
  assert.equal(await viewer.locator('section.actions').count(), 0);
  // And the API refuses what the page does not offer.
  const me = await (await viewer.request.get(`${base}/api/v1/me`)).json();
  const id = viewer.url().match(/\/threats\/(\d+)/)[1];
  const res = await viewer.request.fetch(`${base}/api/v1/threats/${id}`, {
    method: 'PATCH',
    headers: { 'X-CSRF-Token': me.csrf_token, 'Content-Type': 'application/json' },
    data: JSON.stringify({ state: 'In Progress' }),
  });
  assert.equal(res.status(), 403);
  // Reports: readable and downloadable, not editable.
  if ((await (await viewer.request.get(`${base}/api/v1/openapi.json`)).json()).paths['/api/v1/reports']) {
    await viewer.goto(`${base}/reports`);
    await viewer.locator('section[aria-labelledby="saved-title"] a').first().click();
    await viewer.locator('a[data-format="pdf"]').waitFor();
    assert.equal(await viewer.getByRole('link', { name: 'Edit', exact: true }).count(), 0);
    assert.equal(await viewer.getByRole('button', { name: 'Add schedule' }).count(), 0);
    assert.equal(await viewer.getByRole('link', { name: 'New report' }).count(), 0);
  }
  // Signing out ends the session: the API answers 401 and the UI asks to sign in again.
  await viewer.getByRole('button', { name: 'Sign out' }).click();
  await viewer.waitForURL(/\/login/);
  assert.equal((await viewer.request.get(`${base}/api/v1/me`)).status(), 401);
  await viewer.goto(`${base}/threats`);
  await viewer.waitForURL(/\/login\?next=/);
  await viewerContext.close();
});

test('the engines\' pages open when the server offers their routes', async (t) => {
  const doc = await (await page.request.get(`${base}/api/v1/openapi.json`)).json();
  const pages = [
    ['/api/v1/rules', '/rules', 'Rules', 'Rule groups'],
    ['/api/v1/intel/feeds', '/intel', 'Intel', 'Feeds and their last import'],
    ['/api/v1/assets', '/vulnerabilities', 'Vulnerabilities', 'Assets'],
    ['/api/v1/responses', '/responses', 'Responses', 'Deliveries'],
  ].filter(([route]) => route in doc.paths);
  if (pages.length === 0) return t.skip('this server has no engine routes');
  await page.goto(`${base}/threats?${q({})}`);
  await settled(page);
  for (const [, path, title, section] of pages) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title }).click();
    await page.waitForURL(new RegExp(`${path}`));
    await page.getByRole('heading', { name: title, level: 1 }).waitFor();
    await page.getByRole('heading', { name: section }).waitFor();
    await page.waitForFunction(() => !document.querySelector('main [role=progressbar]'));
    assert.equal(await page.locator('main .error').count(), 0, `${path} shows an error`);
    await screenshot(page, `engine${path.replace('/', '-')}`);
  }
  if (doc.paths['/api/v1/rules/test']) {
    // A rule tested against pasted events says which match.
    await page.goto(`${base}/rules?${q({})}`);
    await page.getByLabel('Rule (YAML)').fill(
      'title: Mimikatz by image\nlevel: high\nlogsource: {product: windows, category: process_creation}\n' +
        'detection:\n  sel:\n    Image|endswith: mimikatz.exe\n  condition: sel\n',
    );
    await page.getByLabel(/^Events/).fill(
      [
        { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Image: 'C:\\Tools\\mimikatz.exe' },
        { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Image: 'C:\\Windows\\notepad.exe' },
      ].map((e) => JSON.stringify(e)).join('\n'),
    );
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await page.getByText('1 of 2 events match.').waitFor();
    await screenshot(page, 'rule-test');
  }
  if (doc.paths['/api/v1/responses/preview']) {
    // The response editor previews what would be sent, and names a bad template variable.
    await page.goto(`${base}/responses?${q({})}`);
    await page.getByLabel('URL').fill('https://hooks.example.org/{{no.such.variable}}');
    await page.locator('.preview .error').waitFor();
    await page.getByLabel('URL').fill('https://hooks.example.org/soc');
    await page.locator('.preview pre', { hasText: 'POST https://hooks.example.org/soc' }).waitFor();
    await screenshot(page, 'response-preview');
  }
});

test('reports: a template opened in the builder, a widget added, the JSON broken and fixed, saved, downloaded', async (t) => {
  const doc = await (await page.request.get(`${base}/api/v1/openapi.json`)).json();
  if (!doc.paths['/api/v1/reports']) return t.skip('this server has no report routes');
  await page.goto(`${base}/threats?${q({})}`);
  await settled(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Reports' }).click();
  await page.waitForURL(/\/reports\?/);
  await page.getByRole('heading', { name: 'Reports', level: 1 }).waitFor();
  // The demo's saved report and the shipped templates are listed.
  const saved = page.locator('section[aria-labelledby="saved-title"]');
  await saved.getByRole('link', { name: 'Weekly SOC summary', exact: true }).waitFor();
  const templates = page.locator('section[aria-labelledby="tpl-title"]');
  await templates.getByRole('link', { name: 'Backlog by queue', exact: true }).click();
  await page.waitForURL(/\/reports\/templates\/backlog-by-queue/);
  await page.getByRole('heading', { name: 'Backlog by queue', level: 1 }).waitFor();
  const rendered = page.frameLocator('iframe.report-frame');
  await rendered.locator('section#widget-oldest-open').waitFor();
  await screenshot(page, 'report-template');

  // From the template into the editor: the builder shows its widgets, the preview renders them.
  await page.getByRole('link', { name: 'Create a report from this template' }).click();
  await page.waitForURL(/\/reports\/new\?.*template=backlog-by-queue/);
  await page.locator('.validity[data-state="valid"]').waitFor();
  const cards = page.locator('.builder-grid .builder-widget');
  assert.equal(await cards.count(), 8);
  const preview = page.frameLocator('.preview-pane iframe.live');
  await preview.locator('section').nth(7).waitFor();
  assert.equal(await preview.locator('section').count(), 8);

  // Add a pie chart: it lands on the grid, focused, and the preview re-renders with it.
  await page.getByRole('button', { name: '+ Pie chart' }).click();
  await page.locator('.builder-widget[data-id="pie-1"]').waitFor();
  await preview.locator('section#widget-pie-1').waitFor();
  assert.equal(await preview.locator('section').count(), 9);
  // The keyboard moves it (arrow keys on the focused widget) and says where it went.
  assert.equal(await page.evaluate(() => document.activeElement?.dataset?.id), 'pie-1');
  const before = await page.locator('.builder-widget[data-id="pie-1"]').getAttribute('aria-label');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction((b) => {
    const el = document.querySelector('.builder-widget[data-id="pie-1"]');
    return el && el.getAttribute('aria-label') !== b && document.activeElement === el;
  }, before);
  // Dragged by its handle two cells right, it lands there.
  const moved = await page.locator('.builder-widget[data-id="pie-1"]').getAttribute('aria-label');
  const columnOf = (label) => Number(/column (\d+)/.exec(label)[1]);
  const grid = await page.locator('.builder-grid').boundingBox();
  const handle = await page.locator('.builder-widget[data-id="pie-1"] .drag-handle').boundingBox();
  await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
  await page.mouse.down();
  await page.mouse.move(handle.x + handle.width / 2 + (grid.width / 12) * 2, handle.y + handle.height / 2, { steps: 6 });
  await page.mouse.up();
  await page.waitForFunction((col) => {
    const label = document.querySelector('.builder-widget[data-id="pie-1"]')?.getAttribute('aria-label') ?? '';
    return label.includes(`column ${col},`);
  }, columnOf(moved) + 2);
  await preview.locator('section#widget-pie-1').waitFor();
  // Configure it: a pie of hosts.
  await page.getByRole('button', { name: /^Configure Pie chart/ }).click();
  await page.locator('.widget-config').getByLabel('Dimension').selectOption('host');
  await page.locator('.builder-widget[data-id="pie-1"]', { hasText: 'Pie chart · host' }).waitFor();
  await screenshot(page, 'report-builder');

  // The JSON editor holds the same document; a bad value is refused with its path.
  await page.getByRole('tab', { name: 'JSON' }).click();
  const json = page.getByLabel('Report document (JSON)');
  const good = await json.inputValue();
  assert.match(good, /"id": "pie-1"/);
  assert.match(good, /"dimension": "host"/);
  const parsed = JSON.parse(good);
  const pieIndex = parsed.widgets.findIndex((w) => w.id === 'pie-1');
  await json.fill(good.replace('"dimension": "host"', '"dimension": "colour"'));
  await page.locator('.validity[data-state="invalid"]', { hasText: `widgets[${pieIndex}].chart.dimension` }).waitFor();
  await page.locator('.validity', { hasText: "unknown dimension 'colour'" }).waitFor();
  // Neither back to the builder nor saved while it is bad.
  await page.getByRole('tab', { name: 'Builder' }).click();
  await page.getByRole('status').getByText(/Fix the document before switching/).waitFor();
  assert.equal(await page.getByRole('tab', { name: 'JSON' }).getAttribute('aria-selected'), 'true');
  await screenshot(page, 'report-json-error');
  // Broken JSON is located too.
  const broken = good.replace('"title": "Backlog by queue"', '"title": "Backlog by queue",,');
  await json.fill(broken);
  await page.locator('.validity[data-state="invalid"]', { hasText: 'not JSON' }).waitFor();
  const at = broken.indexOf(',,') + 1; // the second comma
  const lines = broken.slice(0, at).split('\n');
  assert.equal(await page.locator('.validity .error-path').textContent(), `line ${lines.length}, column ${lines.at(-1).length + 1}`);

  // Fixed (and retitled in the JSON), back in the builder, saved as a new report.
  await json.fill(good.replace('"title": "Backlog by queue"', '"title": "E2E backlog"'));
  await page.locator('.validity[data-state="valid"]').waitFor();
  await page.getByRole('tab', { name: 'Builder' }).click();
  assert.equal(await page.getByLabel('Title', { exact: true }).first().inputValue(), 'E2E backlog');
  const name = `E2E backlog ${Date.now()}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Save report' }).click();
  await page.waitForURL(/\/reports\/\d+\?/);
  const id = Number(new URL(page.url()).pathname.split('/')[2]);
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  const stored = await (await page.request.get(`${base}/api/v1/reports/${id}`)).json();
  assert.equal(stored.version, 1);
  assert.equal(stored.spec.title, 'E2E backlog');
  assert.equal(stored.spec.widgets.find((w) => w.id === 'pie-1').chart.dimension, 'host');
  await page.frameLocator('iframe.report-frame').locator('section#widget-pie-1').waitFor();
  await page.locator('section[aria-labelledby="ver-title"] tbody tr').first().waitFor();

  // The PDF download is a PDF.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a[data-format="pdf"]').click()]);
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(await download.path());
  assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
  await screenshot(page, 'report-saved');

  // Edited again, it saves as version 2.
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await page.waitForURL(new RegExp(`/reports/${id}/edit`));
  await page.locator('.validity[data-state="valid"]').waitFor();
  await page.getByLabel('Title', { exact: true }).first().fill('E2E backlog, second take');
  await page.locator('.validity[data-state="valid"]').waitFor();
  // Leaving with unsaved changes asks first; declining stays in the editor.
  const asked = new Promise((resolve) => page.once('dialog', (d) => {
    resolve(d.message());
    void d.dismiss();
  }));
  await page.getByRole('link', { name: 'Cancel' }).click();
  assert.match(await asked, /not saved/);
  assert.match(page.url(), new RegExp(`/reports/${id}/edit`));
  await page.getByRole('button', { name: 'Save new version' }).click();
  await page.waitForURL(new RegExp(`/reports/${id}\\?`));
  await page.locator('section[aria-labelledby="ver-title"] tbody tr', { hasText: '2 (current)' }).waitFor();
  assert.equal((await (await page.request.get(`${base}/api/v1/reports/${id}`)).json()).spec.title, 'E2E backlog, second take');

  // The demo's report shows its two versions and its (switched off) schedule.
  await page.goto(`${base}/reports?${q({})}`);
  await page.locator('section[aria-labelledby="saved-title"]').getByRole('link', { name: 'Weekly SOC summary' }).click();
  await page.locator('section[aria-labelledby="ver-title"] tbody tr').nth(1).waitFor();
  await page.locator('section[aria-labelledby="sch-title"] tbody tr', { hasText: '0 8 * * MON' }).waitFor();
  await page.getByRole('heading', { name: 'Runs' }).waitFor();
  // A manager schedules it (the server says when it next runs) and switches the schedule off.
  const schedules = page.locator('section[aria-labelledby="sch-title"]');
  await schedules.getByLabel(/^Cron/).fill('30 7 * * *');
  await schedules.getByLabel('Time zone').fill('Europe/Berlin');
  await schedules.getByLabel('Addresses').fill('e2e-reports@example.org');
  await schedules.getByRole('button', { name: 'Add schedule' }).click();
  const row = schedules.locator('tbody tr', { hasText: '30 7 * * *' });
  await row.getByText('e2e-reports@example.org').waitFor();
  await page.getByRole('status').getByText(/Scheduled; the next run is/).waitFor();
  await row.getByRole('button', { name: 'Disable the schedule 30 7 * * *' }).click();
  await row.getByRole('button', { name: 'Enable the schedule 30 7 * * *' }).waitFor();
  await screenshot(page, 'report-schedules');
});
