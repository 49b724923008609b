// The engines' pages: Rules, Intel, Vulnerabilities and Responses. Each appears only when the
// running server offers its routes (read from /api/v1/openapi.json), so the UI works against a
// server built with or without an engine. What a role may not do is not offered.
import { api, errorText } from '../api';
import { field, h, replace, select } from '../dom';
import { formatAgo, formatCount, formatTime, severityLabel } from '../format';
import { type Page } from '../router';
import { canManageTags, canWork } from '../session';

export type Engine = 'rules' | 'intel' | 'vulnerabilities' | 'responses' | 'reports';
export const ENGINE_PAGES: { engine: Engine; path: string; label: string; route: string }[] = [
  { engine: 'rules', path: '/rules', label: 'Rules', route: '/api/v1/rules' },
  { engine: 'intel', path: '/intel', label: 'Intel', route: '/api/v1/intel/feeds' },
  { engine: 'vulnerabilities', path: '/vulnerabilities', label: 'Vulnerabilities', route: '/api/v1/assets' },
  { engine: 'responses', path: '/responses', label: 'Responses', route: '/api/v1/responses' },
  { engine: 'reports', path: '/reports', label: 'Reports', route: '/api/v1/reports' },
];

let routes: Promise<Set<string>> | null = null;
/** The route patterns the server documents (and therefore serves), read once. */
export function serverRoutes(): Promise<Set<string>> {
  routes ??= api<{ paths: Record<string, unknown> }>('GET', '/api/v1/openapi.json', { quiet: true })
    .then((doc) => new Set(Object.keys(doc.paths ?? {})))
    .catch(() => new Set<string>());
  return routes;
}
/** The engines whose routes the server offers. */
export async function availableEngines(): Promise<Set<Engine>> {
  const paths = await serverRoutes();
  return new Set(ENGINE_PAGES.filter((p) => paths.has(p.route)).map((p) => p.engine));
}

type Cell = Node | string | null;
export function table<T>(caption: string, columns: [string, (row: T) => Cell][], rows: T[], empty: string): HTMLElement {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'plain data' },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, columns.map(([label]) => h('th', { scope: 'col' }, label)))),
      h('tbody', null, rows.map((r) => h('tr', null, columns.map(([, cell]) => h('td', null, cell(r) ?? h('span', { class: 'muted' }, '—')))))),
    ),
  );
}

export function statusLine(): { el: HTMLElement; say: (text: string, error?: boolean) => void } {
  const el = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });
  return { el, say: (text, error = false) => replace(el, h('span', { class: error ? 'error' : 'ok' }, text)) };
}

export function spinner(label: string): HTMLElement {
  return h('div', { class: 'spinner', role: 'progressbar', 'aria-label': label });
}

export function projectQuery(project: string, extra: Record<string, string> = {}): URLSearchParams {
  const q = new URLSearchParams(extra);
  if (project) q.set('project', project);
  return q;
}

export async function section(el: HTMLElement, what: string, load: () => Promise<Node>): Promise<void> {
  replace(el, spinner(`Loading ${what}`));
  try {
    replace(el, await load());
  } catch (e) {
    replace(el, h('p', { class: 'error banner', role: 'alert' }, `Could not load ${what}: ${errorText(e)}`));
  }
}

export function toggleButton(on: boolean, label: string, act: () => Promise<void>): HTMLElement {
  const b = h('button', { type: 'button', class: 'secondary small', 'aria-pressed': String(on), 'aria-label': `${on ? 'Disable' : 'Enable'} ${label}` }, on ? 'Enabled' : 'Disabled');
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await act();
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

// --- Rules -------------------------------------------------------------------------------------

interface RuleGroup { id: number; name: string; kind: string; enabled: boolean; rule_count: number; enabled_rules: number; hits: number }
interface Rule { id: number; rule_id: string; title: string; level: string; kind: string; group: string; enabled: boolean; active: boolean; hits: number; last_hit_at: string | null; yaml?: string; tags: string[] }
interface Diagnostic { code: string; level: string; line: number; column: number; message: string }
interface RuleTest { matched: number; events: { index: number; matched: boolean; selections: string[] }[]; warnings: Diagnostic[] }

export function rulesPage(main: HTMLElement): Page {
  const manage = canManageTags();
  const status = statusLine();
  const groupsEl = h('div');
  const rulesEl = h('div');
  const search = h('input', { type: 'search', placeholder: 'Title or rule id' });
  const yaml = h('textarea', { rows: 12, spellcheck: 'false', class: 'code' });
  const events = h('textarea', { rows: 6, spellcheck: 'false', class: 'code', placeholder: '[{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\\\Tools\\\\mimikatz.exe"}]' });
  const testOut = h('div', { 'aria-live': 'polite' });
  const group = h('input', { type: 'text', value: 'Custom Rules' });

  const loadGroups = () =>
    section(groupsEl, 'rule groups', async () => {
      const r = await api<{ items: RuleGroup[] }>('GET', '/api/v1/rule-groups');
      return table<RuleGroup>(
        'Rule groups',
        [
          ['Group', (g) => g.name],
          ['Kind', (g) => g.kind],
          ['Rules', (g) => `${formatCount(g.enabled_rules)} of ${formatCount(g.rule_count)} enabled`],
          ['Hits', (g) => formatCount(g.hits)],
          ['State', (g) => (manage ? toggleButton(g.enabled, g.name, async () => change(`/api/v1/rule-groups/${g.id}`, { enabled: !g.enabled }, `${g.name} ${g.enabled ? 'disabled' : 'enabled'}`)) : g.enabled ? 'enabled' : 'disabled')],
        ],
        r.items,
        'No rule groups yet.',
      );
    });

  const loadRules = () =>
    section(rulesEl, 'rules', async () => {
      const q = new URLSearchParams({ limit: '500' });
      if (search.value.trim()) q.set('text', search.value.trim());
      const r = await api<{ items: Rule[]; total: number }>('GET', '/api/v1/rules', { query: q });
      return h(
        'div',
        null,
        h('p', { class: 'muted small' }, `${formatCount(r.items.length)} of ${formatCount(r.total)} rules`),
        table<Rule>(
          'Rules',
          [
            ['Title', (x) => h('button', { type: 'button', class: 'link', title: 'Show the YAML in the test form', onclick: () => showRule(x.id) }, x.title)],
            ['Level', (x) => x.level || null],
            ['Kind', (x) => x.kind],
            ['Group', (x) => x.group],
            ['Hits', (x) => formatCount(x.hits)],
            ['Last hit', (x) => (x.last_hit_at ? formatAgo(x.last_hit_at, Date.now()) : null)],
            ['State', (x) => (manage ? toggleButton(x.enabled, x.title, async () => change(`/api/v1/rules/${x.id}`, { enabled: !x.enabled }, `${x.title} ${x.enabled ? 'disabled' : 'enabled'}`)) : x.enabled ? 'enabled' : 'disabled')],
          ],
          r.items,
          'No rules match.',
        ),
      );
    });

  async function change(path: string, body: unknown, what: string): Promise<void> {
    try {
      await api('PATCH', path, { body });
      status.say(`Done: ${what}. Reload the rules for it to take effect.`);
      await Promise.all([loadGroups(), loadRules()]);
    } catch (e) {
      status.say(`Nothing changed: ${errorText(e)}`, true);
    }
  }

  async function showRule(id: number): Promise<void> {
    try {
      const r = await api<Rule>('GET', `/api/v1/rules/${id}`);
      yaml.value = r.yaml ?? '';
      yaml.focus();
    } catch (e) {
      status.say(errorText(e), true);
    }
  }

  function parseEvents(text: string): unknown[] {
    const t = text.trim();
    if (!t) return [];
    if (t.startsWith('[')) return JSON.parse(t) as unknown[];
    return t.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown);
  }

  // Each diagnostic selects its line in the YAML when clicked.
  const goToLine = (line: number) => {
    const lines = yaml.value.split('\n');
    const start = lines.slice(0, Math.max(0, line - 1)).reduce((n, l) => n + l.length + 1, 0);
    yaml.focus();
    yaml.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  };
  const diagnostics = (ds: Diagnostic[]) =>
    h(
      'ul',
      { class: 'diagnostics' },
      ds.map((d) =>
        h(
          'li',
          { class: d.level === 'error' ? 'error' : 'muted' },
          d.line > 0 ? h('button', { type: 'button', class: 'link', onclick: () => goToLine(d.line) }, `line ${d.line}, column ${d.column}`) : null,
          `: ${d.code} ${d.message}`,
        ),
      ),
    );

  const testForm = h(
    'form',
    {
      class: 'card',
      'aria-label': 'Test a rule',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        let evs: unknown[];
        try {
          evs = parseEvents(events.value);
        } catch (err) {
          replace(testOut, h('p', { class: 'error' }, `The events are not JSON: ${(err as Error).message}`));
          return;
        }
        replace(testOut, spinner('Testing'));
        try {
          const r = await api<RuleTest>('POST', '/api/v1/rules/test', { body: { rule: yaml.value, events: evs } });
          replace(
            testOut,
            h('p', null, h('strong', null, `${r.matched} of ${r.events.length} events match.`)),
            h('ol', { class: 'test-events', start: 0 }, r.events.map((ev) => h('li', { class: ev.matched ? 'ok' : 'muted' }, ev.matched ? `matches (${ev.selections.join(', ') || 'condition held'})` : 'no match'))),
            r.warnings.length ? diagnostics(r.warnings) : null,
          );
        } catch (err) {
          const ds = (err as { body?: { diagnostics?: Diagnostic[] } }).body?.diagnostics ?? [];
          replace(testOut, h('p', { class: 'error', role: 'alert' }, errorText(err)), ds.length ? diagnostics(ds) : null);
        }
      },
    },
    h('h2', null, 'Test a rule'),
    h('p', { class: 'muted small' }, 'Paste Sigma YAML (or pick a rule above) and sample events; nothing is stored.'),
    field('Rule (YAML)', yaml),
    field('Events (a JSON array, or one JSON object a line)', events),
    h(
      'div',
      { class: 'row' },
      canWork() ? h('button', { type: 'submit' }, 'Test') : h('span', { class: 'muted' }, 'Operators and above can test rules.'),
      manage
        ? [
            field('Group for upload', group),
            h(
              'button',
              {
                type: 'button',
                class: 'secondary',
                onclick: async () => {
                  try {
                    await api('POST', '/api/v1/rules', { body: { yaml: yaml.value, group: group.value.trim() || 'Custom Rules' } });
                    status.say('Rule uploaded. Reload the rules for it to take effect.');
                    await Promise.all([loadGroups(), loadRules()]);
                  } catch (err) {
                    status.say(`Not uploaded: ${errorText(err)}`, true);
                    const ds = ((err as { body?: { diagnostics?: Diagnostic[] } }).body?.diagnostics ?? []);
                    if (ds.length) replace(testOut, h('p', { class: 'error' }, 'The rule has errors:'), diagnostics(ds));
                  }
                },
              },
              'Upload as custom rule',
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'secondary',
                onclick: async () => {
                  try {
                    await api('POST', '/api/v1/rules/reload', { body: {} });
                    status.say('Rules reloaded.');
                  } catch (err) {
                    status.say(`Not reloaded: ${errorText(err)}`, true);
                  }
                },
              },
              'Reload rules',
            ),
          ]
        : null,
    ),
    testOut,
  );

  let debounce = 0;
  search.addEventListener('input', () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => void loadRules(), 300);
  });
  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Rules')),
    status.el,
    h('section', { class: 'card', 'aria-labelledby': 'rg-title' }, h('h2', { id: 'rg-title' }, 'Rule groups'), groupsEl),
    h('section', { class: 'card', 'aria-labelledby': 'rl-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'rl-title' }, 'Rules'), field('Search rules', search)), rulesEl),
    testForm,
  );
  void loadGroups();
  void loadRules();
  return { destroy() {} };
}

// --- Intel -------------------------------------------------------------------------------------

interface Feed {
  id: number; name: string; type: string; source: string; enabled: boolean; indicator_count: number;
  last_import_at: string | null; last_status: string; refresh_minutes: number;
  last_import?: { added: number; updated: number; rejected: number; expired: number; suppressed: number; ok: boolean; error: string; finished_at: string; report?: { rejections?: unknown[]; warnings?: unknown[] } } | null;
}
interface Lookup { query: string; type: string; canonical: string; matches: { value: string; type: string; confidence: number; active: boolean; feeds: { feed: string; confidence: number }[] }[] }

export function intelPage(main: HTMLElement, project: string): Page {
  const status = statusLine();
  const feedsEl = h('div');
  const value = h('input', { type: 'search', required: true, placeholder: 'IP, domain, URL, hash, e-mail or file name', maxlength: 8192 });
  const lookupOut = h('div', { 'aria-live': 'polite' });
  const manage = canManageTags();

  const loadFeeds = () =>
    section(feedsEl, 'feeds', async () => {
      const r = await api<{ items: Feed[] }>('GET', '/api/v1/intel/feeds', { query: projectQuery(project) });
      const ids = r.items.map((f) => f.id);
      const details = await Promise.all(ids.map((id) => api<Feed>('GET', `/api/v1/intel/feeds/${id}`, { query: projectQuery(project), quiet: true }).catch(() => null)));
      const feeds = r.items.map((f, i) => ({ ...f, last_import: details[i]?.last_import ?? null }));
      return table<Feed>(
        'Intel feeds',
        [
          ['Feed', (f) => f.name],
          ['Type', (f) => `${f.type} · ${f.source}`],
          ['Indicators', (f) => formatCount(f.indicator_count)],
          ['Last import', (f) => (f.last_import_at ? h('time', { datetime: f.last_import_at, title: formatTime(f.last_import_at) }, formatAgo(f.last_import_at, Date.now())) : 'never')],
          ['Status', (f) => h('span', { class: f.last_status === 'ok' ? 'ok' : 'error' }, f.last_status || '—')],
          ['Report', (f) => {
            const li = f.last_import;
            if (!li) return null;
            const summary = `+${li.added} added, ${li.updated} updated, ${li.rejected} rejected, ${li.expired} expired, ${li.suppressed} suppressed`;
            const extra = [...(li.report?.rejections ?? []), ...(li.report?.warnings ?? [])];
            return extra.length || li.error
              ? h('details', null, h('summary', null, summary), li.error ? h('p', { class: 'error' }, li.error) : null, h('pre', { class: 'evidence' }, JSON.stringify(extra.slice(0, 50), null, 2)))
              : summary;
          }],
          ['', (f) =>
            manage && /^(https?|taxii)/.test(f.source)
              ? h('button', {
                  type: 'button',
                  class: 'secondary small',
                  onclick: async () => {
                    try {
                      await api('POST', `/api/v1/intel/feeds/${f.id}/import`, { query: projectQuery(project), body: {} });
                      status.say(`Imported ${f.name}.`);
                      void loadFeeds();
                    } catch (e) {
                      status.say(`Import of ${f.name} failed: ${errorText(e)}`, true);
                    }
                  },
                }, 'Import now')
              : null],
        ],
        feeds,
        'No feeds yet (threatdesk intel, or POST /api/v1/intel/feeds).',
      );
    });

  const lookupForm = h(
    'form',
    {
      class: 'row',
      role: 'search',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        replace(lookupOut, spinner('Looking up'));
        try {
          const r = await api<Lookup>('GET', '/api/v1/intel/indicators', { query: projectQuery(project, { value: value.value.trim() }) });
          replace(
            lookupOut,
            h('p', null, `${r.query} reads as ${r.type || 'unknown'}${r.canonical && r.canonical !== r.query ? ` (${r.canonical})` : ''}: `, h('strong', null, r.matches.length ? `${r.matches.length} indicator${r.matches.length === 1 ? '' : 's'} match` : 'no indicator matches')),
            table<Lookup['matches'][number]>(
              'Matching indicators',
              [
                ['Indicator', (m) => m.value],
                ['Type', (m) => m.type],
                ['Feeds', (m) => m.feeds.map((f) => f.feed).join(', ')],
                ['Confidence', (m) => String(m.confidence)],
                ['Active', (m) => (m.active ? 'yes' : 'no (expired or suppressed)')],
              ],
              r.matches,
              '',
            ),
            h('p', null, h('a', { href: `/threats?project=${encodeURIComponent(project)}&text=${encodeURIComponent(r.canonical || r.query)}` }, 'Threats mentioning it')),
          );
        } catch (err) {
          replace(lookupOut, h('p', { class: 'error', role: 'alert' }, errorText(err)));
        }
      },
    },
    field('Indicator', value, 'grow'),
    h('button', { type: 'submit' }, 'Search'),
  );

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Intel')),
    status.el,
    h('section', { class: 'card', 'aria-labelledby': 'lookup-title' }, h('h2', { id: 'lookup-title' }, 'Search an indicator'), lookupForm, lookupOut),
    h('section', { class: 'card', 'aria-labelledby': 'feeds-title' }, h('h2', { id: 'feeds-title' }, 'Feeds and their last import'), feedsEl),
  );
  void loadFeeds();
  return { destroy() {} };
}

// --- Vulnerabilities ---------------------------------------------------------------------------

interface Asset { id: number; name: string; host: string; owner: string; entity_group: string; criticality: number; last_scan_at: string | null; open_findings: Record<string, number> }
interface Finding { id: number; vulnerability: string; advisory: string; package: string; version: string; fixed_versions: string[]; severity: string; score: number; state: string; summary: string; threat_id: number | null }
interface SbomChange { id: number; uploaded_at: string; uploaded_by: string; format: string; components: number; added?: unknown[]; removed?: unknown[]; changed?: unknown[] }

export function vulnerabilitiesPage(main: HTMLElement, project: string): Page {
  const status = statusLine();
  const assetsEl = h('div');
  const detailEl = h('div');
  const work = canWork();
  const q = () => projectQuery(project);

  const sevChips = (counts: Record<string, number>) =>
    h('span', { class: 'mini-chips' }, ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'].map((s) => (counts?.[s] ? h('span', { class: `sev sev-${s.toLowerCase()}`, title: severityLabel(s) }, `${counts[s]} ${severityLabel(s)}`) : null)));

  const loadAssets = () =>
    section(assetsEl, 'assets', async () => {
      const r = await api<{ items: Asset[] }>('GET', '/api/v1/assets', { query: q() });
      return table<Asset>(
        'Assets',
        [
          ['Asset', (a) => h('button', { type: 'button', class: 'link', onclick: () => void showAsset(a) }, a.name)],
          ['Host', (a) => a.host || null],
          ['Criticality', (a) => String(a.criticality)],
          ['Open findings', (a) => sevChips(a.open_findings)],
          ['Last scan', (a) => (a.last_scan_at ? formatAgo(a.last_scan_at, Date.now()) : 'never')],
        ],
        r.items,
        'No assets yet. Add one below, then upload its SBOM.',
      );
    });

  async function showAsset(a: Asset): Promise<void> {
    const file = h('input', { type: 'file', accept: '.json,application/json' });
    const upload = h('button', { type: 'button' }, 'Upload SBOM');
    upload.addEventListener('click', async () => {
      const f = file.files?.[0];
      if (!f) return status.say('Choose a CycloneDX or SPDX JSON file first.', true);
      let doc: unknown;
      try {
        doc = JSON.parse(await f.text());
      } catch (e) {
        return status.say(`${f.name} is not JSON: ${(e as Error).message}`, true);
      }
      upload.disabled = true;
      upload.textContent = 'Uploading and scanning…';
      try {
        await api('POST', `/api/v1/assets/${a.id}/sbom`, { body: doc, query: q() });
        status.say(`${f.name} uploaded to ${a.name} and scanned.`);
        await loadAssets();
        await showAsset(a);
      } catch (e) {
        status.say(`Not uploaded: ${errorText(e)}`, true);
      } finally {
        upload.disabled = false;
        upload.textContent = 'Upload SBOM';
      }
    });
    await section(detailEl, `${a.name}`, async () => {
      const [findings, sboms] = await Promise.all([
        api<{ items: Finding[]; total: number }>('GET', `/api/v1/assets/${a.id}/findings`, { query: projectQuery(project, { limit: '500' }) }),
        api<{ items: SbomChange[] }>('GET', `/api/v1/assets/${a.id}/sboms`, { query: q() }),
      ]);
      return h(
        'section',
        { class: 'card', 'aria-label': `Asset ${a.name}` },
        h('h2', null, a.name),
        work ? h('div', { class: 'row' }, field('SBOM (CycloneDX or SPDX JSON)', file), upload) : null,
        h('h3', null, `Open findings (${formatCount(findings.total)})`),
        table<Finding>(
          `Findings of ${a.name}`,
          [
            ['Vulnerability', (f) => h('span', { title: f.summary }, f.vulnerability || f.advisory)],
            ['Package', (f) => `${f.package}@${f.version}`],
            ['Fixed in', (f) => (f.fixed_versions?.length ? f.fixed_versions.join(', ') : 'no fix known')],
            ['Severity', (f) => h('span', { class: `sev sev-${f.severity.toLowerCase()}` }, severityLabel(f.severity))],
            ['Score', (f) => String(f.score)],
            ['Threat', (f) => (f.threat_id ? h('a', { href: `/threats/${f.threat_id}?project=${encodeURIComponent(project)}` }, `#${f.threat_id}`) : null)],
          ],
          findings.items,
          'No open findings.',
        ),
        h('h3', null, 'SBOM history'),
        table<SbomChange>(
          `SBOMs of ${a.name}`,
          [
            ['Uploaded', (s) => formatTime(s.uploaded_at)],
            ['By', (s) => s.uploaded_by],
            ['Format', (s) => s.format],
            ['Components', (s) => formatCount(s.components)],
            ['Change', (s) => `+${s.added?.length ?? 0} −${s.removed?.length ?? 0} ~${s.changed?.length ?? 0}`],
          ],
          sboms.items,
          'No SBOM uploaded yet.',
        ),
      );
    });
    detailEl.scrollIntoView({ block: 'start' });
  }

  const name = h('input', { type: 'text', required: true, maxlength: 256 });
  const host = h('input', { type: 'text', maxlength: 256 });
  const crit = select(null, ['1', '2', '3', '4', '5'].map((c) => [c, c]), '3');
  const newAsset = work
    ? h(
        'form',
        {
          class: 'card form-grid',
          'aria-label': 'New asset',
          onsubmit: async (e: Event) => {
            e.preventDefault();
            try {
              await api('POST', '/api/v1/assets', { query: q(), body: { name: name.value.trim(), host: host.value.trim(), criticality: Number(crit.value) } });
              status.say(`Added ${name.value.trim()}.`);
              name.value = '';
              host.value = '';
              void loadAssets();
            } catch (err) {
              status.say(`No asset added: ${errorText(err)}`, true);
            }
          },
        },
        h('h2', null, 'Add an asset'),
        field('Name', name),
        field('Host', host),
        field('Criticality (1-5)', crit),
        h('button', { type: 'submit' }, 'Add asset'),
      )
    : null;

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Vulnerabilities')),
    status.el,
    h('section', { class: 'card', 'aria-labelledby': 'assets-title' }, h('h2', { id: 'assets-title' }, 'Assets'), assetsEl),
    detailEl,
    newAsset,
  );
  void loadAssets();
  return { destroy() {} };
}

// --- Responses ---------------------------------------------------------------------------------

interface ResponseRow { id: number; name: string; type: string; enabled: boolean; min_severity?: string; events?: string[]; scope?: string; held_back?: number }
interface Delivery { id: number; response_id: number; threat_id: number; kind: string; recipient: string; status: string; attempts: number; max_attempts: number; created_at: string; last_error: string; last_status: number }

export function responsesPage(main: HTMLElement, project: string): Page {
  const status = statusLine();
  const responsesEl = h('div');
  const deliveriesEl = h('div');
  const manage = canManageTags();
  const q = (extra: Record<string, string> = {}) => projectQuery(project, extra);
  let onlyFailed = true;

  const loadResponses = () =>
    section(responsesEl, 'responses', async () => {
      const r = await api<{ items: ResponseRow[] }>('GET', '/api/v1/responses', { query: q() });
      return table<ResponseRow>(
        'Responses',
        [
          ['Response', (x) => (manage ? h('button', { type: 'button', class: 'link', onclick: () => void edit(x.id) }, x.name) : x.name)],
          ['Type', (x) => x.type],
          ['When', (x) => [x.events?.join(', '), x.min_severity ? `≥ ${severityLabel(x.min_severity)}` : ''].filter(Boolean).join(' · ') || null],
          ['Scope', (x) => x.scope ?? null],
          ['Held back', (x) => (x.held_back ? formatCount(x.held_back) : null)],
          ['State', (x) =>
            manage
              ? toggleButton(x.enabled, x.name, async () => {
                  try {
                    await api('PATCH', `/api/v1/responses/${x.id}`, { query: q(), body: { enabled: !x.enabled } });
                    status.say(`${x.name} ${x.enabled ? 'disabled' : 'enabled'}.`);
                    void loadResponses();
                  } catch (e) {
                    status.say(`Nothing changed: ${errorText(e)}`, true);
                  }
                })
              : x.enabled ? 'enabled' : 'disabled'],
        ],
        r.items,
        'No responses yet (threatdesk respond, or POST /api/v1/responses).',
      );
    });

  const loadDeliveries = () =>
    section(deliveriesEl, 'deliveries', async () => {
      const r = await api<{ items: Delivery[] }>('GET', '/api/v1/deliveries', { query: q(onlyFailed ? { status: 'failed' } : {}) });
      return table<Delivery>(
        'Deliveries',
        [
          ['When', (d) => h('time', { datetime: d.created_at, title: formatTime(d.created_at) }, formatAgo(d.created_at, Date.now()))],
          ['Kind', (d) => d.kind],
          ['To', (d) => d.recipient],
          ['Threat', (d) => (d.threat_id ? h('a', { href: `/threats/${d.threat_id}?project=${encodeURIComponent(project)}` }, `#${d.threat_id}`) : null)],
          ['Status', (d) => h('span', { class: d.status === 'delivered' || d.status === 'sent' ? 'ok' : d.status === 'failed' ? 'error' : '' }, d.status)],
          ['Tries', (d) => `${d.attempts} of ${d.max_attempts}`],
          ['Last error', (d) => d.last_error || null],
          ['', (d) =>
            manage && (d.status === 'failed' || d.status === 'skipped')
              ? h('button', {
                  type: 'button',
                  class: 'secondary small',
                  onclick: async () => {
                    try {
                      await api('POST', `/api/v1/deliveries/${d.id}/replay`, { query: q(), body: {} });
                      status.say(`Delivery ${d.id} queued again.`);
                      void loadDeliveries();
                    } catch (e) {
                      status.say(`Not retried: ${errorText(e)}`, true);
                    }
                  },
                }, 'Retry')
              : null],
        ],
        r.items,
        onlyFailed ? 'No failed deliveries.' : 'No deliveries yet.',
      );
    });

  // --- the editor: email or webhook, with a live preview and a test send ---
  let editing: number | null = null;
  const rName = h('input', { type: 'text', required: true, maxlength: 256 });
  const rType = select(null, [['webhook', 'Webhook'], ['email', 'E-mail']], 'webhook');
  const rSeverity = select(null, ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].map((x) => [x, severityLabel(x)]), 'INFO');
  const eventNames = ['threat.created', 'threat.assigned', 'threat.state_changed', 'threat.closed', 'threat.reopened'];
  const rEvents = eventNames.map((ev) => h('input', { type: 'checkbox', value: ev, checked: ev === 'threat.created', id: `ev-${ev}` }));
  const preset = select(null, [['', '(none)'], ...['slack', 'teams', 'generic', 'firewall_block', 'disable_user', 'ticket'].map((x): [string, string] => [x, x])], '');
  const method = select(null, ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'].map((x) => [x, x]), 'POST');
  const url = h('input', { type: 'url', placeholder: 'https://hooks.example.org/{{threat.project}}' });
  const payload = h('textarea', { rows: 5, class: 'code', placeholder: 'Template; empty: the preset or the default JSON' });
  const to = h('input', { type: 'text', placeholder: 'soc@example.org, oncall@example.org' });
  const subject = h('input', { type: 'text', placeholder: 'Template; empty: the default subject' });
  const text = h('textarea', { rows: 5, class: 'code', placeholder: 'Template; empty: the default text' });
  const threatId = h('input', { type: 'number', min: 1, placeholder: 'sample threat' });
  const preview = h('div', { class: 'preview', 'aria-live': 'polite' });
  const webhookFields = h('div', { class: 'form-grid inner' }, field('Preset', preset), field('Method', method), field('URL', url, 'grow'), field('Payload', payload, 'wide'));
  const emailFields = h('div', { class: 'form-grid inner' }, field('To', to, 'grow'), field('Subject', subject, 'grow'), field('Text', text, 'wide'));
  const testButton = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Send a test');
  const formTitle = h('h2', null, 'New response');

  function draft(): Record<string, unknown> {
    const d: Record<string, unknown> = {
      name: rName.value.trim() || 'draft',
      type: rType.value,
      min_severity: rSeverity.value,
      events: rEvents.filter((c) => c.checked).map((c) => c.value),
    };
    const put = (o: Record<string, unknown>, k: string, v: string) => {
      if (v.trim()) o[k] = v;
    };
    if (rType.value === 'webhook') {
      const w: Record<string, unknown> = { method: method.value };
      put(w, 'preset', preset.value);
      put(w, 'url', url.value);
      put(w, 'payload', payload.value);
      d.webhook = w;
    } else {
      const e: Record<string, unknown> = {};
      const addrs = to.value.split(/[,\s]+/).filter(Boolean);
      if (addrs.length) e.to_addresses = addrs;
      put(e, 'subject', subject.value);
      put(e, 'text', text.value);
      d.email = e;
    }
    return d;
  }

  function syncType(): void {
    webhookFields.hidden = rType.value !== 'webhook';
    emailFields.hidden = rType.value !== 'email';
  }

  let previewTimer = 0;
  function schedulePreview(): void {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(async () => {
      const body: Record<string, unknown> = { response: draft() };
      if (threatId.value) body.threat_id = Number(threatId.value);
      try {
        const r = await api<{ webhook?: { method: string; url: string; headers?: Record<string, string>; body?: string }; email?: { to?: string[]; subject: string; text: string; html?: string } }>(
          'POST', '/api/v1/responses/preview', { query: q(), body, quiet: true });
        const parts: Node[] = [];
        if (r.webhook) {
          const w = r.webhook;
          parts.push(h('pre', { class: 'evidence' }, `${w.method} ${w.url}\n${Object.entries(w.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${w.body ?? ''}`));
        }
        if (r.email) {
          const e = r.email;
          parts.push(h('pre', { class: 'evidence' }, `To: ${(e.to ?? []).join(', ')}\nSubject: ${e.subject}\n\n${e.text}`));
          if (e.html) parts.push(h('iframe', { class: 'html-preview', sandbox: '', srcdoc: e.html, title: 'HTML e-mail preview' }));
        }
        replace(preview, h('p', { class: 'muted small' }, 'Preview (nothing is sent):'), parts);
      } catch (e) {
        replace(preview, h('p', { class: 'error' }, errorText(e)));
      }
    }, 400);
  }

  async function edit(id: number): Promise<void> {
    try {
      const r = await api<Record<string, any>>('GET', `/api/v1/responses/${id}`, { query: q() });
      editing = id;
      formTitle.textContent = `Edit ${r.name}`;
      rName.value = r.name ?? '';
      rType.value = r.type ?? 'webhook';
      rSeverity.value = r.min_severity ?? 'INFO';
      rEvents.forEach((c) => (c.checked = (r.events ?? []).includes(c.value)));
      preset.value = r.webhook?.preset ?? '';
      method.value = r.webhook?.method ?? 'POST';
      url.value = r.webhook?.url ?? '';
      payload.value = r.webhook?.payload ?? '';
      to.value = (r.email?.to_addresses ?? []).join(', ');
      subject.value = r.email?.subject ?? '';
      text.value = r.email?.text ?? '';
      testButton.disabled = false;
      syncType();
      schedulePreview();
      editor.scrollIntoView({ block: 'start' });
      rName.focus();
    } catch (e) {
      status.say(errorText(e), true);
    }
  }

  testButton.addEventListener('click', async () => {
    if (editing === null) return;
    testButton.disabled = true;
    try {
      const r = await api<{ results: unknown[] }>('POST', `/api/v1/responses/${editing}/test`, { query: q(), body: threatId.value ? { threat_id: Number(threatId.value) } : {} });
      replace(preview, h('p', { class: 'ok' }, 'Sent once. What went out and what came back:'), h('pre', { class: 'evidence' }, JSON.stringify(r.results, null, 2)));
    } catch (e) {
      replace(preview, h('p', { class: 'error' }, `The test send failed: ${errorText(e)}`));
    } finally {
      testButton.disabled = false;
    }
  });

  const editor = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'resp-form-title',
      oninput: schedulePreview,
      onchange: () => {
        syncType();
        schedulePreview();
      },
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          const body = { ...draft(), name: rName.value.trim() };
          if (editing === null) {
            const created = await api<{ id: number }>('POST', '/api/v1/responses', { query: q(), body });
            editing = created.id;
            testButton.disabled = false;
            status.say(`Created ${body.name}.`);
          } else {
            await api('PATCH', `/api/v1/responses/${editing}`, { query: q(), body });
            status.say(`Saved ${body.name}.`);
          }
          formTitle.textContent = `Edit ${body.name}`;
          void loadResponses();
        } catch (err) {
          status.say(`Not saved: ${errorText(err)}`, true);
        }
      },
    },
    formTitle,
    h('div', { class: 'form-grid inner' }, field('Name', rName), field('Type', rType), field('Minimum severity', rSeverity), field('Preview with threat #', threatId)),
    h('fieldset', null, h('legend', null, 'On'), rEvents.map((c) => h('label', { class: 'inline', for: c.id }, c, ` ${c.value}`))),
    webhookFields,
    emailFields,
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'submit' }, 'Save'),
      testButton,
      h('button', {
        type: 'button',
        class: 'link',
        onclick: () => {
          editing = null;
          formTitle.textContent = 'New response';
          editor.reset();
          testButton.disabled = true;
          syncType();
          schedulePreview();
        },
      }, 'New'),
    ),
    preview,
  );
  formTitle.id = 'resp-form-title';
  syncType();

  const filter = select(
    { 'aria-label': 'Which deliveries', onchange: (e: Event) => { onlyFailed = (e.target as HTMLSelectElement).value === 'failed'; void loadDeliveries(); } },
    [['failed', 'Failed only'], ['all', 'All']],
    'failed',
  );
  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Responses')),
    status.el,
    h('section', { class: 'card', 'aria-labelledby': 'resp-title' }, h('h2', { id: 'resp-title' }, 'Responses'), responsesEl),
    manage ? editor : null,
    h('section', { class: 'card', 'aria-labelledby': 'del-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'del-title' }, 'Deliveries'), filter), deliveriesEl),
  );
  if (manage) schedulePreview();
  void loadResponses();
  void loadDeliveries();
  return { destroy() {} };
}
