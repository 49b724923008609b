// Reports: the saved reports and shipped templates of a project, one report rendered by the
// server (HTML) with its downloads, versions, schedules and runs, and the editor — a visual
// builder and a JSON editor over the same document, both checked by the server's validator as
// they change, with a live preview rendered by the server. The document logic is in
// report_doc.ts; everything shown of a report is the server's own rendering.
import { api, apiText, ApiError, errorText } from '../api';
import { field, h, replace, select } from '../dom';
import { formatAgo, formatCount, formatTime } from '../format';
import {
  addWidget,
  blankDoc,
  BUCKETS,
  CHART_KINDS,
  columnsOf,
  describePath,
  describeWidget,
  DIMENSIONS,
  formatDoc,
  KPI_METRICS,
  layout,
  locatePath,
  METRICS,
  moveTo,
  moveWidget,
  PALETTE,
  POPULATIONS,
  removeWidget,
  resizeWidget,
  rowsUsed,
  THREAT_COLUMNS,
  THREAT_SORTS,
  TIME_RANGES,
  updateWidget,
  widgetIndexOfPath,
  widgetLabel,
  type Direction,
  type ReportDoc,
  type Widget,
} from '../report_doc';
import { navigate, setLeaveGuard, withProject, type Page } from '../router';
import { canManageTags, canWork, session } from '../session';
import { projectQuery, section, spinner, statusLine, table, toggleButton } from './engines';

interface ReportRow { id: number; project_id: number; name: string; version: number; created_by: string; updated_by: string; created_at: string; updated_at: string; title?: string; spec?: ReportDoc }
interface Template { name: string; title: string; description: string; spec: ReportDoc }
interface Version { version: number; author: string; created_at: string; spec: ReportDoc }
interface ScheduleUser { id: number; email?: string; name?: string; disabled?: boolean }
interface Schedule { id: number; report_id: number; cron: string; time_zone: string; recipients: string[]; users?: ScheduleUser[]; format: string; enabled: boolean; next_run_at: string | null; last_run_at: string | null }
interface RunDelivery { recipient: string; status: string; attempts: number; last_error: string }
// `file`, `delivery` and `deliveries` come from servers that mail runs through the outbox.
interface Run { id: number; schedule_id: number | null; report_version: number; scheduled_for: string; started_at: string; finished_at: string | null; status: string; message: string; bytes: number; file?: boolean; delivery?: string; deliveries?: RunDelivery[] }
interface ValidationError { code: string; field: string; message: string }
interface Validation { valid: boolean; errors: ValidationError[] }

const DOWNLOADS: [string, string][] = [['pdf', 'PDF'], ['png', 'PNG'], ['svg', 'SVG'], ['csv', 'CSV']];
const words = (s: string) => s.replace(/_/g, ' ');
const options = (names: string[]): [string, string][] => names.map((n) => [n, words(n)]);

export function reportsPage(main: HTMLElement, url: URL, project: string): Page {
  const path = url.pathname.replace(/\/+$/, '');
  let m: RegExpExecArray | null;
  if (path === '/reports') return listView(main, project);
  if (path === '/reports/new') return editorView(main, project, null, url);
  if ((m = /^\/reports\/templates\/([\w-]+)$/.exec(path))) return templateView(main, project, m[1]);
  if ((m = /^\/reports\/(\d+)\/edit$/.exec(path))) return editorView(main, project, Number(m[1]), url);
  if ((m = /^\/reports\/(\d+)$/.exec(path))) return reportView(main, project, Number(m[1]));
  replace(main, h('h1', null, 'Not found'), h('p', null, h('a', { href: withProject('/reports', project) }, 'Go to the reports')));
  return { destroy() {} };
}

const crumbs = (project: string) => h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: withProject('/reports', project) }, 'Reports'), ' ›');

/** A rendered report (the server's HTML) in a sandboxed frame: no scripts, no access to the app. */
function renderedFrame(title: string): HTMLIFrameElement {
  return h('iframe', { class: 'report-frame', sandbox: '', title });
}

function downloadLinks(href: (format: string) => string, name: string): HTMLElement {
  return h(
    'div',
    { class: 'row downloads', role: 'group', 'aria-label': 'Download' },
    h('span', { class: 'muted small' }, 'Download'),
    DOWNLOADS.map(([format, label]) => h('a', { class: 'button secondary small', href: href(format), download: `${name}.${format}`, 'data-format': format }, label)),
  );
}

// --- the list ----------------------------------------------------------------------------------

function listView(main: HTMLElement, project: string): Page {
  const reportsEl = h('div');
  const templatesEl = h('div');
  const q = () => projectQuery(project);
  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Reports'), canWork() ? h('a', { class: 'button', href: withProject('/reports/new', project) }, 'New report') : null),
    h('section', { class: 'card', 'aria-labelledby': 'saved-title' }, h('h2', { id: 'saved-title' }, 'Saved reports'), reportsEl),
    h('section', { class: 'card', 'aria-labelledby': 'tpl-title' }, h('h2', { id: 'tpl-title' }, 'Templates'), templatesEl),
  );
  void section(reportsEl, 'reports', async () => {
    const r = await api<{ items: ReportRow[] }>('GET', '/api/v1/reports', { query: q() });
    return table<ReportRow>(
      'Saved reports',
      [
        ['Report', (x) => h('a', { href: withProject(`/reports/${x.id}`, project) }, x.name)],
        ['Version', (x) => String(x.version)],
        ['Updated', (x) => h('time', { datetime: x.updated_at, title: formatTime(x.updated_at) }, formatAgo(x.updated_at, Date.now()))],
        ['By', (x) => x.updated_by],
      ],
      r.items,
      'No saved reports in this project yet. Start from a template below.',
    );
  });
  void section(templatesEl, 'templates', async () => {
    const r = await api<{ items: Template[] }>('GET', '/api/v1/reports/templates', { query: q() });
    return table<Template>(
      'Templates',
      [
        ['Template', (t) => h('a', { href: withProject(`/reports/templates/${t.name}`, project) }, t.title)],
        ['What it shows', (t) => t.description],
        ['', (t) => (canWork() ? h('a', { class: 'button secondary small', href: withProject(`/reports/new?template=${encodeURIComponent(t.name)}`, project), 'aria-label': `New report from ${t.title}` }, 'Use') : null)],
      ],
      r.items,
      'No templates.',
    );
  });
  return { destroy() {} };
}

// --- a template --------------------------------------------------------------------------------

function templateView(main: HTMLElement, project: string, name: string): Page {
  const frame = renderedFrame(`The template ${name}, rendered`);
  const body = h('div', null, spinner('Loading the template'));
  replace(main, crumbs(project), body);
  const abort = new AbortController();
  (async () => {
    try {
      const r = await api<{ items: Template[] }>('GET', '/api/v1/reports/templates', { query: projectQuery(project) });
      const t = r.items.find((x) => x.name === name);
      if (!t) throw new Error(`no template ${name}`);
      const href = (format: string) => `/api/v1/reports/templates/${encodeURIComponent(name)}/render?${projectQuery(project, { format })}`;
      replace(
        body,
        h('div', { class: 'page-head' }, h('h1', null, t.title), h('span', { class: 'muted' }, `template ${t.name}`)),
        h('p', { class: 'muted' }, t.description),
        h('div', { class: 'row' }, canWork() ? h('a', { class: 'button', href: withProject(`/reports/new?template=${encodeURIComponent(name)}`, project) }, 'Create a report from this template') : null, downloadLinks(href, name)),
        h('section', { class: 'card', 'aria-label': 'Rendered' }, frame),
      );
      frame.srcdoc = await apiText('GET', `/api/v1/reports/templates/${encodeURIComponent(name)}/render`, { query: projectQuery(project, { format: 'html' }), signal: abort.signal });
    } catch (e) {
      if ((e as Error).name !== 'AbortError') replace(body, h('p', { class: 'error banner', role: 'alert' }, `Could not load the template: ${errorText(e)}`));
    }
  })();
  return { destroy: () => abort.abort() };
}

// --- a saved report ----------------------------------------------------------------------------

function reportView(main: HTMLElement, project: string, id: number): Page {
  const status = statusLine();
  const head = h('div', null, spinner('Loading the report'));
  const frame = renderedFrame('The report, rendered');
  const versionsEl = h('div');
  const schedulesEl = h('div');
  const runsEl = h('div');
  const toolbar = h('div', { class: 'row' });
  const abort = new AbortController();
  let report: ReportRow | null = null;
  let shown: number | null = null; // the version shown (null: the current one)
  const pageSize = select({ 'aria-label': 'Paper' }, [['', 'Paper as saved'], ['A4', 'A4'], ['Letter', 'Letter']], '');
  const grey = h('input', { type: 'checkbox', id: 'rep-grey' });

  const renderQuery = (format: string) => {
    const extra: Record<string, string> = { format };
    if (shown !== null) extra.version = String(shown);
    if (format === 'pdf' && pageSize.value) extra.page_size = pageSize.value;
    if (grey.checked && format !== 'csv') extra.grayscale = '1';
    return projectQuery('', extra);
  };

  async function showRendered(): Promise<void> {
    frame.srcdoc = '';
    try {
      frame.srcdoc = await apiText('GET', `/api/v1/reports/${id}/render`, { query: renderQuery('html'), signal: abort.signal });
    } catch (e) {
      if ((e as Error).name !== 'AbortError') status.say(`Could not render: ${errorText(e)}`, true);
    }
  }

  function drawToolbar(): void {
    if (!report) return;
    const file = report.name.replace(/[^A-Za-z0-9]+/g, '-');
    replace(
      toolbar,
      canWork() ? h('a', { class: 'button', href: withProject(`/reports/${id}/edit${shown !== null ? `?version=${shown}` : ''}`, project) }, shown !== null ? `Edit from version ${shown}` : 'Edit') : null,
      downloadLinks((format) => `/api/v1/reports/${id}/render?${renderQuery(format)}`, file),
      field('Paper (PDF)', pageSize),
      h('label', { class: 'inline', for: 'rep-grey' }, grey, ' Greyscale'),
      canManageTags()
        ? h('button', {
            type: 'button',
            class: 'link danger',
            onclick: async () => {
              if (!confirm(`Delete the report ${report!.name}, its versions and schedules?`)) return;
              try {
                await api('DELETE', `/api/v1/reports/${id}`);
                navigate(withProject('/reports', project));
              } catch (e) {
                status.say(`Not deleted: ${errorText(e)}`, true);
              }
            },
          }, 'Delete')
        : null,
    );
  }
  pageSize.addEventListener('change', drawToolbar);
  grey.addEventListener('change', () => {
    drawToolbar();
    void showRendered();
  });

  const loadVersions = () =>
    section(versionsEl, 'versions', async () => {
      const r = await api<{ items: Version[] }>('GET', `/api/v1/reports/${id}/versions`);
      return table<Version>(
        'Versions',
        [
          ['Version', (v) => (v.version === report?.version ? `${v.version} (current)` : String(v.version))],
          ['Saved', (v) => h('time', { datetime: v.created_at, title: formatTime(v.created_at) }, formatAgo(v.created_at, Date.now()))],
          ['By', (v) => v.author],
          ['Title', (v) => v.spec?.title ?? null],
          ['', (v) =>
            h('button', {
              type: 'button',
              class: 'secondary small',
              'aria-pressed': String((shown ?? report?.version) === v.version),
              onclick: () => {
                shown = v.version === report?.version ? null : v.version;
                drawToolbar();
                void showRendered();
                void loadVersions();
              },
            }, 'Show')],
        ],
        r.items,
        'No versions.',
      );
    });

  // Schedules: managers add, enable/disable and delete them (they send mail outside).
  const cron = h('input', { type: 'text', value: '0 8 * * MON', required: true, placeholder: '0 8 * * MON', spellcheck: 'false' });
  const zone = h('input', { type: 'text', value: session.me?.user?.time_zone || 'UTC', required: true });
  const recipients = h('input', { type: 'text', placeholder: 'soc@example.org, ciso@example.org' });
  const format = select(null, [['pdf', 'PDF'], ['png', 'PNG'], ['svg', 'SVG'], ['csv', 'CSV']], 'pdf');
  // Users of the organisation (their current address is used at each run).
  const users = h('select', { multiple: true, size: Math.min(4, Math.max(2, session.users.length)) }, session.users.map((u) => h('option', { value: String(u.id) }, u.email)));
  const scheduleForm = canManageTags()
    ? h(
        'form',
        {
          class: 'form-grid',
          'aria-label': 'New schedule',
          onsubmit: async (e: Event) => {
            e.preventDefault();
            try {
              const body: Record<string, unknown> = { cron: cron.value.trim(), time_zone: zone.value.trim(), recipients: recipients.value.split(/[,\s]+/).filter(Boolean), format: format.value };
              const chosen = [...users.selectedOptions].map((o) => Number(o.value));
              if (chosen.length) body.users = chosen;
              const s = await api<Schedule>('POST', `/api/v1/reports/${id}/schedules`, { body });
              status.say(`Scheduled; the next run is ${s.next_run_at ? formatTime(s.next_run_at) : 'not set'}.`);
              void loadSchedules();
            } catch (err) {
              status.say(`Not scheduled: ${errorText(err)}`, true);
            }
          },
        },
        h('h3', null, 'Add a schedule'),
        field('Cron (minute hour day month weekday)', cron),
        field('Time zone', zone),
        field('Addresses', recipients, 'grow'),
        session.users.length ? field('Users', users) : null,
        field('Format', format),
        h('button', { type: 'submit' }, 'Add schedule'),
      )
    : null;

  const loadSchedules = () =>
    section(schedulesEl, 'schedules', async () => {
      const r = await api<{ items: Schedule[] }>('GET', `/api/v1/reports/${id}/schedules`);
      return table<Schedule>(
        'Schedules',
        [
          ['When', (s) => h('code', null, s.cron)],
          ['Time zone', (s) => s.time_zone],
          ['To', (s) => [...s.recipients, ...(s.users ?? []).map((u) => (u.email ? `${u.email}${u.disabled ? ' (disabled)' : ''}` : `user ${u.id}`))].join(', ') || null],
          ['Format', (s) => s.format.toUpperCase()],
          ['Next run', (s) => (s.next_run_at ? formatTime(s.next_run_at) : null)],
          ['Last run', (s) => (s.last_run_at ? formatTime(s.last_run_at) : null)],
          ['State', (s) =>
            canManageTags()
              ? toggleButton(s.enabled, `the schedule ${s.cron}`, async () => {
                  try {
                    await api('PATCH', `/api/v1/reports/${id}/schedules/${s.id}`, { body: { enabled: !s.enabled } });
                    void loadSchedules();
                  } catch (e) {
                    status.say(`Nothing changed: ${errorText(e)}`, true);
                  }
                })
              : s.enabled ? 'enabled' : 'disabled'],
          ['', (s) =>
            canManageTags()
              ? h('button', {
                  type: 'button',
                  class: 'link danger',
                  'aria-label': `Delete the schedule ${s.cron}`,
                  onclick: async () => {
                    try {
                      await api('DELETE', `/api/v1/reports/${id}/schedules/${s.id}`);
                      void loadSchedules();
                    } catch (e) {
                      status.say(`Not deleted: ${errorText(e)}`, true);
                    }
                  },
                }, 'Delete')
              : null],
        ],
        r.items,
        'Not scheduled.',
      );
    });

  const loadRuns = () =>
    section(runsEl, 'runs', async () => {
      const r = await api<{ items: Run[] }>('GET', `/api/v1/reports/${id}/runs`);
      return table<Run>(
        'Runs',
        [
          ['For', (x) => formatTime(x.scheduled_for)],
          ['Finished', (x) => (x.finished_at ? formatTime(x.finished_at) : null)],
          ['Status', (x) => h('span', { class: x.status === 'ok' ? 'ok' : x.status === 'failed' ? 'error' : '' }, x.status)],
          ['Version', (x) => String(x.report_version)],
          ['Size', (x) => (x.bytes ? `${formatCount(Math.ceil(x.bytes / 1024))} KiB` : null)],
          ['Message', (x) => x.message || null],
          ['E-mail', (x) =>
            x.delivery && x.delivery !== 'none'
              ? h('span', { class: x.delivery === 'delivered' ? 'ok' : x.delivery === 'failed' ? 'error' : '', title: (x.deliveries ?? []).map((d) => `${d.recipient}: ${d.status}, ${d.attempts} tries${d.last_error ? ` (${d.last_error})` : ''}`).join('\n') }, `${x.delivery} (${(x.deliveries ?? []).length})`)
              : null],
          ['File', (x) => (x.file ? h('a', { href: `/api/v1/reports/${id}/runs/${x.id}/file`, download: '' }, 'Download') : null)],
        ],
        r.items,
        'No runs yet.',
      );
    });

  replace(
    main,
    crumbs(project),
    head,
    status.el,
    toolbar,
    h('section', { class: 'card', 'aria-label': 'Rendered' }, frame),
    h('section', { class: 'card', 'aria-labelledby': 'ver-title' }, h('h2', { id: 'ver-title' }, 'Versions'), versionsEl),
    h('section', { class: 'card', 'aria-labelledby': 'sch-title' }, h('h2', { id: 'sch-title' }, 'Schedules'), schedulesEl, scheduleForm),
    h('section', { class: 'card', 'aria-labelledby': 'run-title' }, h('h2', { id: 'run-title' }, 'Runs'), runsEl),
  );
  (async () => {
    try {
      report = await api<ReportRow>('GET', `/api/v1/reports/${id}`);
      replace(
        head,
        h('div', { class: 'page-head' }, h('h1', null, report.name), h('span', { class: 'muted' }, `version ${report.version}, saved ${formatAgo(report.updated_at, Date.now())} by ${report.updated_by}`)),
        report.title && report.title !== report.name ? h('p', { class: 'muted' }, report.title) : null,
      );
      drawToolbar();
      void showRendered();
      void loadVersions();
      void loadSchedules();
      void loadRuns();
    } catch (e) {
      replace(head, h('p', { class: 'error banner', role: 'alert' }, `Could not load the report: ${errorText(e)}`));
    }
  })();
  return { destroy: () => abort.abort() };
}

// --- the editor --------------------------------------------------------------------------------

function editorView(main: HTMLElement, project: string, id: number | null, url: URL): Page {
  if (!canWork()) {
    replace(main, crumbs(project), h('h1', null, 'Edit report'), h('p', { class: 'muted' }, 'Operators and above edit reports; you can open and download them.'));
    return { destroy() {} };
  }
  const status = statusLine();
  const abort = new AbortController();
  let doc: ReportDoc = blankDoc();
  let text = formatDoc(doc);
  let mode: 'builder' | 'json' = 'builder';
  let selected: number | null = null;
  let baseVersion: number | null = null;
  let lastCheck: { text: string; result: Validation } | null = null;
  let checking: Promise<Validation> | null = null;
  let validateTimer = 0;
  let previewTimer = 0;
  let previewSeq = 0;
  let dirty = false;
  let gridRows = 1;

  const name = h('input', { type: 'text', required: true, maxlength: 256, id: 'rep-name' });
  const heading = h('h1', null, id === null ? 'New report' : 'Edit report');
  const validity = h('div', { class: 'validity', role: 'status', 'aria-live': 'polite' });
  const jsonText = h('textarea', { class: 'code json-editor', rows: 28, spellcheck: 'false', 'aria-label': 'Report document (JSON)', 'aria-describedby': 'rep-validity' });
  validity.id = 'rep-validity';
  const settingsEl = h('div', { class: 'form-grid inner' });
  const paletteEl = h('div', { class: 'palette', role: 'group', 'aria-label': 'Add a widget' });
  const gridEl = h('div', { class: 'builder-grid', role: 'list', 'aria-label': 'Widgets on the grid' });
  const configEl = h('div', { class: 'widget-config' });
  const announce = h('div', { class: 'sr-only', 'aria-live': 'polite' });
  // Two frames: the next rendering loads hidden and replaces the shown one when it has loaded,
  // at the same scroll position (so the preview neither flashes nor jumps while editing). No
  // scripts run in them; allow-same-origin only lets this page read and set their scroll.
  const previewFrame = () => {
    const f = renderedFrame('Live preview');
    f.setAttribute('sandbox', 'allow-same-origin');
    return f;
  };
  let frame = previewFrame();
  frame.classList.add('live');
  const frames = h('div', { class: 'preview-frames' }, frame);
  const previewState = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const saveButton = h('button', { type: 'submit' }, id === null ? 'Save report' : 'Save new version');
  const tabBuilder = h('button', { type: 'button', role: 'tab', id: 'tab-builder', 'aria-controls': 'panel-builder' }, 'Builder');
  const tabJson = h('button', { type: 'button', role: 'tab', id: 'tab-json', 'aria-controls': 'panel-json' }, 'JSON');
  const panelBuilder = h('div', { role: 'tabpanel', id: 'panel-builder', 'aria-labelledby': 'tab-builder' }, h('h2', null, 'Report'), settingsEl, h('h2', null, 'Widgets'), paletteEl, h('p', { class: 'muted small' }, 'Drag a widget by its handle, or focus it and use the arrow keys (Delete removes it, Enter configures it).'), gridEl, configEl, announce);
  const panelJson = h('div', { role: 'tabpanel', id: 'panel-json', 'aria-labelledby': 'tab-json' }, jsonText);

  // --- validation (the server's validator) and the live preview ---

  async function check(t: string): Promise<Validation> {
    if (lastCheck?.text === t) return lastCheck.result;
    const result = JSON.parse(await apiText('POST', '/api/v1/reports/validate', { body: t, quiet: true, signal: abort.signal })) as Validation;
    lastCheck = { text: t, result };
    return result;
  }

  function showValidity(v: Validation | null, pending = false): void {
    if (pending) {
      validity.dataset.state = 'checking';
      replace(validity, h('span', { class: 'muted' }, 'Checking…'));
      return;
    }
    if (!v) return;
    validity.dataset.state = v.valid ? 'valid' : 'invalid';
    // The preview stays on the last valid document, dimmed while this one is refused.
    frame.classList.toggle('stale', !v.valid);
    if (v.valid) {
      replace(validity, h('span', { class: 'ok' }, '✓ The document is valid.'));
    } else {
      const first = v.errors[0];
      const where = describePath(text, first.field);
      replace(
        validity,
        h('span', { class: 'error' }, h('button', { type: 'button', class: 'link error-path', title: 'Show it in the JSON', onclick: () => showInJson(first.field) }, where), `: ${first.message}`),
        v.errors.length > 1 ? h('span', { class: 'muted small' }, ` (and ${v.errors.length - 1} more)`) : null,
      );
    }
    gridEl.querySelectorAll('.builder-widget').forEach((el) => el.classList.remove('has-error'));
    if (!v.valid) {
      v.errors.forEach((e) => {
        const i = widgetIndexOfPath(e.field);
        if (i !== null) gridEl.querySelector(`[data-index="${i}"]`)?.classList.add('has-error');
      });
    }
  }

  function showInJson(path: string): void {
    if (mode !== 'json') setMode('json', true);
    const at = locatePath(jsonText.value, path);
    jsonText.focus();
    if (at) jsonText.setSelectionRange(at.start, at.end);
  }

  /** Checks the current text now (switching tabs and saving wait for it). */
  async function checkNow(): Promise<Validation> {
    window.clearTimeout(validateTimer);
    const t = text;
    checking = check(t);
    const v = await checking;
    if (t === text) showValidity(v);
    return v;
  }

  function scheduleCheck(delay = 300): void {
    window.clearTimeout(validateTimer);
    showValidity(null, true);
    validateTimer = window.setTimeout(async () => {
      try {
        const v = await checkNow();
        if (v.valid) schedulePreview();
      } catch (e) {
        if ((e as Error).name !== 'AbortError') replace(validity, h('span', { class: 'error' }, `Could not check: ${errorText(e)}`));
      }
    }, delay);
  }

  /** Renders the document just found valid, unless it changed again meanwhile. */
  function schedulePreview(): void {
    window.clearTimeout(previewTimer);
    const t = text;
    previewTimer = window.setTimeout(async () => {
      if (t !== text) return;
      const seq = ++previewSeq;
      replace(previewState, 'Rendering…');
      try {
        const html = await apiText('POST', '/api/v1/reports/preview', { query: projectQuery(project), body: t, quiet: true, signal: abort.signal });
        if (seq !== previewSeq) return;
        const next = previewFrame();
        next.classList.add('loading');
        next.addEventListener('load', () => {
          if (seq !== previewSeq || !frames.contains(frame)) {
            next.remove();
            return;
          }
          let y = 0;
          try {
            y = frame.contentWindow?.scrollY ?? 0;
            next.contentWindow?.scrollTo(0, y);
          } catch {
            // not readable: start at the top
          }
          frame.remove();
          frame = next;
          next.classList.remove('loading');
          next.classList.add('live');
          next.dataset.rendered = String(seq);
        }, { once: true });
        next.srcdoc = html;
        frames.appendChild(next);
        replace(previewState, `Rendered ${new Date().toLocaleTimeString()}`);
      } catch (e) {
        if ((e as Error).name === 'AbortError' || seq !== previewSeq) return;
        replace(previewState, h('span', { class: 'error' }, `Not rendered: ${errorText(e)}`));
      }
    }, 400);
  }

  // --- one document, two editors ---

  /**
   * A change made in the builder. The report's settings are never redrawn under the cursor; the
   * grid and the widget form are, and the form's focused control keeps the focus.
   */
  function commit(next: ReportDoc, message?: string, from: 'settings' | 'widgets' = 'widgets'): void {
    doc = next;
    text = formatDoc(doc);
    jsonText.value = text;
    dirty = true;
    if (from === 'widgets' && mode === 'builder') {
      const key = focusKey(configEl);
      drawGrid();
      drawConfig();
      restoreFocus(configEl, key);
    }
    if (message) replace(announce, message);
    scheduleCheck(150);
  }

  const keyOf = (el: Element) => (el as HTMLElement).dataset?.key ?? el.getAttribute('aria-label');
  function focusKey(within: HTMLElement): string | null {
    const active = document.activeElement;
    return active && within.contains(active) ? keyOf(active) : null;
  }
  function restoreFocus(within: HTMLElement, key: string | null): void {
    if (!key) return;
    const el = [...within.querySelectorAll('input, select, textarea, button')].find((e) => keyOf(e) === key) as HTMLElement | undefined;
    el?.focus();
  }
  /** A labelled control that keeps the focus when its form is redrawn. */
  const keyed = (label: string, control: HTMLElement, extraClass = '') => {
    control.dataset.key = label;
    return field(label, control, extraClass);
  };

  jsonText.addEventListener('input', () => {
    text = jsonText.value;
    dirty = true;
    scheduleCheck();
  });

  async function setMode(next: 'builder' | 'json', force = false): Promise<void> {
    if (next === mode && !force) return;
    if (next === 'builder' && mode === 'json') {
      // Back to the builder only with a document the validator accepts.
      try {
        const v = await checkNow();
        if (!v.valid) {
          status.say(`Fix the document before switching to the builder: ${describePath(text, v.errors[0].field)}: ${v.errors[0].message}`, true);
          jsonText.focus();
          return;
        }
        doc = JSON.parse(text) as ReportDoc;
        status.say('');
      } catch (e) {
        status.say(`Could not check the document: ${errorText(e)}`, true);
        return;
      }
    }
    if (next === 'json') jsonText.value = text;
    mode = next;
    tabBuilder.setAttribute('aria-selected', String(mode === 'builder'));
    tabJson.setAttribute('aria-selected', String(mode === 'json'));
    tabBuilder.tabIndex = mode === 'builder' ? 0 : -1;
    tabJson.tabIndex = mode === 'json' ? 0 : -1;
    panelBuilder.hidden = mode !== 'builder';
    panelJson.hidden = mode !== 'json';
    if (mode === 'builder') drawBuilder();
  }
  tabBuilder.addEventListener('click', () => void setMode('builder'));
  tabJson.addEventListener('click', () => void setMode('json'));
  [tabBuilder, tabJson].forEach((t) =>
    t.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      e.preventDefault();
      const other = t === tabBuilder ? tabJson : tabBuilder;
      other.focus();
      other.click();
    }),
  );

  // --- the builder ---

  function drawSettings(): void {
    const title = h('input', { type: 'text', value: doc.title ?? '', required: true, maxlength: 512 });
    const description = h('input', { type: 'text', value: doc.description ?? '', maxlength: 2000 });
    const rangeValue = typeof doc.time_range === 'string' ? doc.time_range : 'custom';
    const rangeOptions = options(TIME_RANGES);
    if (!TIME_RANGES.includes(rangeValue)) rangeOptions.push([rangeValue, rangeValue === 'custom' ? 'from/to (edit in JSON)' : words(rangeValue)]);
    const range = select(null, rangeOptions, rangeValue);
    const zone = h('input', { type: 'text', value: doc.time_zone ?? 'UTC', placeholder: 'UTC' });
    const paper = select(null, [['A4', 'A4'], ['Letter', 'Letter']], doc.page?.size ?? 'A4');
    const orientation = select(null, [['portrait', 'portrait'], ['landscape', 'landscape']], doc.page?.orientation ?? 'portrait');
    const set = (mutate: (d: ReportDoc) => void) => {
      const next = JSON.parse(JSON.stringify(doc)) as ReportDoc;
      mutate(next);
      commit(next, undefined, 'settings');
    };
    title.addEventListener('input', () => set((d) => (d.title = title.value)));
    description.addEventListener('input', () =>
      set((d) => {
        if (description.value.trim()) d.description = description.value;
        else delete d.description;
      }),
    );
    range.addEventListener('change', () => set((d) => (d.time_range = range.value)));
    zone.addEventListener('change', () =>
      set((d) => {
        if (zone.value.trim() && zone.value.trim() !== 'UTC') d.time_zone = zone.value.trim();
        else delete d.time_zone;
      }),
    );
    const setPage = () => set((d) => (d.page = { ...(d.page ?? {}), size: paper.value, orientation: orientation.value }));
    paper.addEventListener('change', setPage);
    orientation.addEventListener('change', setPage);
    replace(settingsEl, field('Title', title, 'grow'), field('Description', description, 'grow'), field('Time range', range), field('Time zone', zone), field('Paper', paper), field('Orientation', orientation), filterFields(doc.filters, (f) => set((d) => {
      if (f) d.filters = f;
      else delete d.filters;
    }), 'Report'));
  }

  /** Severities and open/closed of a filter object (the other members are kept as they are). */
  function filterFields(filters: Record<string, unknown> | undefined, onChange: (f: Record<string, unknown> | undefined) => void, what: string): HTMLElement {
    const current = filters ?? {};
    const severities = new Set((current.severities as string[] | undefined) ?? []);
    const boxes = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'].map((s) => h('input', { type: 'checkbox', value: s, checked: severities.has(s), 'aria-label': `${what} filter: ${s.toLowerCase()}` }));
    const open = select({ 'aria-label': `${what} filter: open or closed` }, [['', 'open and closed'], ['true', 'open only'], ['false', 'closed only']], current.open === undefined ? '' : String(current.open));
    const changed = () => {
      const f: Record<string, unknown> = { ...current };
      const sev = boxes.filter((b) => b.checked).map((b) => b.value);
      if (sev.length) f.severities = sev;
      else delete f.severities;
      if (open.value) f.open = open.value === 'true';
      else delete f.open;
      onChange(Object.keys(f).length ? f : undefined);
    };
    boxes.forEach((b) => b.addEventListener('change', changed));
    open.addEventListener('change', changed);
    return h('fieldset', { class: 'filter-fields' }, h('legend', null, `${what} filters`), boxes.map((b) => h('label', { class: 'inline' }, b, ` ${b.value.toLowerCase()}`)), open, Object.keys(current).some((k) => k !== 'severities' && k !== 'open') ? h('span', { class: 'muted small' }, ' (more filters in the JSON)') : null);
  }

  function drawPalette(): void {
    replace(
      paletteEl,
      PALETTE.map((p) =>
        h('button', {
          type: 'button',
          class: 'secondary small',
          'data-kind': p.kind,
          onclick: () => {
            try {
              const r = addWidget(doc, p.kind);
              selected = r.index;
              commit(r.doc, `Added a ${p.label.toLowerCase()}.`);
              focusWidget(r.index);
            } catch (e) {
              status.say(errorText(e), true);
            }
          },
        }, `+ ${p.label}`),
      ),
    );
  }

  function focusWidget(index: number): void {
    (gridEl.querySelector(`[data-index="${index}"]`) as HTMLElement | null)?.focus();
  }

  function move(index: number, dir: Direction): void {
    const r = moveWidget(doc, index, dir);
    const label = widgetLabel(doc.widgets[index]);
    if (!r.moved) {
      replace(announce, `${label} cannot move ${dir}.`);
      return;
    }
    const p = r.doc.widgets[index].position!;
    commit(r.doc, `${label} moved to column ${p.x + 1}, row ${p.y + 1}.`);
    focusWidget(index);
  }

  function remove(index: number): void {
    if (doc.widgets.length <= 1) {
      status.say('A report needs at least one widget.', true);
      return;
    }
    const label = widgetLabel(doc.widgets[index]);
    selected = null;
    commit(removeWidget(doc, index), `Removed ${label}.`);
    focusWidget(Math.min(index, doc.widgets.length - 1));
  }

  function drawGrid(): void {
    const columns = columnsOf(doc);
    const ps = layout(doc);
    gridEl.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
    gridEl.style.backgroundSize = `calc(100% / ${columns}) 100%`;
    gridRows = Math.max(1, rowsUsed(ps) + 1);
    gridEl.style.gridTemplateRows = `repeat(${gridRows}, 4.2rem)`;
    replace(
      gridEl,
      doc.widgets.map((w, i) => {
        const p = ps[i];
        const label = widgetLabel(w);
        const arrow = (dir: Direction, sign: string) =>
          h('button', { type: 'button', class: 'icon-button tiny', tabindex: '-1', 'aria-label': `Move ${label} ${dir}`, title: `Move ${dir}`, onclick: () => move(i, dir) }, sign);
        const handle = h('span', { class: 'drag-handle', title: 'Drag to move', 'aria-hidden': 'true' }, '⠿');
        const card = h(
          'div',
          {
            class: `builder-widget type-${w.type}${selected === i ? ' selected' : ''}${p.h === 1 ? ' short' : ''}`,
            role: 'listitem',
            tabindex: '0',
            'data-index': String(i),
            'data-id': w.id ?? '',
            'aria-label': `${label}: column ${p.x + 1}, row ${p.y + 1}, ${p.w} wide, ${p.h} high`,
            style: `grid-column: ${p.x + 1} / span ${p.w}; grid-row: ${p.y + 1} / span ${p.h}`,
          },
          h('div', { class: 'bw-head' }, handle, h('strong', { class: 'bw-title' }, label)),
          h('div', { class: 'bw-desc muted small' }, describeWidget(w)),
          h(
            'div',
            { class: 'bw-tools' },
            arrow('left', '←'),
            arrow('up', '↑'),
            arrow('down', '↓'),
            arrow('right', '→'),
            h('button', { type: 'button', class: 'icon-button tiny', tabindex: '-1', 'aria-label': `Configure ${label}`, title: 'Configure', onclick: () => configure(i) }, '⚙'),
            h('button', { type: 'button', class: 'icon-button tiny danger', tabindex: '-1', 'aria-label': `Remove ${label}`, title: 'Remove', onclick: () => remove(i) }, '✕'),
          ),
        );
        card.addEventListener('keydown', (e) => {
          if (e.target !== card) return;
          const dirs: Record<string, Direction> = { ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down' };
          if (dirs[e.key]) {
            e.preventDefault();
            move(i, dirs[e.key]);
          } else if (e.key === 'Delete' || e.key === 'Backspace') {
            e.preventDefault();
            remove(i);
          } else if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            configure(i);
          }
        });
        card.addEventListener('click', (e) => {
          if ((e.target as Element).closest('button')) return;
          configure(i, false);
        });
        dragWith(handle, card, i);
        return card;
      }),
    );
  }

  // Dragging: the card follows the pointer cell by cell; dropping moves it there for real.
  function dragWith(handle: HTMLElement, card: HTMLElement, index: number): void {
    handle.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      const start = layout(doc)[index];
      const columns = columnsOf(doc);
      const rect = gridEl.getBoundingClientRect();
      const cellW = rect.width / columns;
      const rowStep = rect.height / gridRows; // one grid row, with its gap
      const origin = { x: e.clientX, y: e.clientY };
      let target = { x: start.x, y: start.y };
      handle.setPointerCapture(e.pointerId);
      card.classList.add('dragging');
      const onMove = (ev: PointerEvent) => {
        const x = Math.max(0, Math.min(columns - start.w, start.x + Math.round((ev.clientX - origin.x) / cellW)));
        const y = Math.max(0, start.y + Math.round((ev.clientY - origin.y) / rowStep));
        if (x === target.x && y === target.y) return;
        target = { x, y };
        card.style.gridColumn = `${x + 1} / span ${start.w}`;
        card.style.gridRow = `${y + 1} / span ${start.h}`;
      };
      const onUp = () => {
        handle.removeEventListener('pointermove', onMove);
        handle.removeEventListener('pointerup', onUp);
        handle.removeEventListener('pointercancel', onUp);
        card.classList.remove('dragging');
        if (target.x === start.x && target.y === start.y) return;
        commit(moveTo(doc, index, target.x, target.y), `${widgetLabel(doc.widgets[index])} moved to column ${target.x + 1}, row ${target.y + 1}.`);
        focusWidget(index);
      };
      handle.addEventListener('pointermove', onMove);
      handle.addEventListener('pointerup', onUp);
      handle.addEventListener('pointercancel', onUp);
    });
  }

  function configure(index: number, focus = true): void {
    selected = index;
    drawBuilder();
    if (focus) (configEl.querySelector('input, select') as HTMLElement | null)?.focus();
    else focusWidget(index);
  }

  function drawConfig(): void {
    if (selected === null || !doc.widgets[selected]) {
      replace(configEl, h('p', { class: 'muted small' }, 'Select a widget to configure it.'));
      return;
    }
    const index = selected;
    const w = doc.widgets[index];
    const p = layout(doc)[index];
    const columns = columnsOf(doc);
    const change = (mutate: (x: Widget) => void) => {
      const next = JSON.parse(JSON.stringify(w)) as Widget;
      mutate(next);
      commit(updateWidget(doc, index, next));
    };
    const title = h('input', { type: 'text', value: w.title ?? '', placeholder: describeWidget(w), maxlength: 512 });
    title.addEventListener('input', () => {
      // Keep typing fluid: the grid label updates, the form is not redrawn under the cursor.
      const next = JSON.parse(JSON.stringify(w)) as Widget;
      next.title = title.value;
      dirty = true;
      doc = updateWidget(doc, index, next);
      text = formatDoc(doc);
      jsonText.value = text;
      const label = gridEl.querySelector(`[data-index="${index}"] .bw-title`);
      if (label) label.textContent = widgetLabel(doc.widgets[index]);
      scheduleCheck();
    });
    title.addEventListener('change', () => drawGrid());
    const wide = h('input', { type: 'number', min: 1, max: columns, value: String(p.w) });
    const high = h('input', { type: 'number', min: 1, max: 20, value: String(p.h) });
    const resize = () => commit(resizeWidget(doc, index, Number(wide.value), Number(high.value)));
    wide.addEventListener('change', resize);
    high.addEventListener('change', resize);
    const sel = (label: string, names: string[], value: string | undefined, onChange: (v: string) => void, extra: [string, string][] = []) => {
      const s = select(null, [...extra, ...options(names)], value ?? extra[0]?.[0] ?? names[0]);
      s.addEventListener('change', () => onChange(s.value));
      return keyed(label, s);
    };
    const fields: HTMLElement[] = [];
    if (w.type === 'kpi') {
      const k = w.kpi ?? { metric: 'open' };
      fields.push(sel('Figure', KPI_METRICS, k.metric, (v) => change((x) => (x.kpi = { ...k, metric: v }))));
      const compare = h('input', { type: 'checkbox', checked: k.compare !== false, 'data-key': 'compare' });
      compare.addEventListener('change', () => change((x) => {
        x.kpi = { ...k };
        if (compare.checked) delete x.kpi.compare;
        else x.kpi.compare = false;
      }));
      fields.push(h('label', { class: 'inline' }, compare, ' Compare with the previous period'));
    } else if (w.type === 'chart') {
      const c = w.chart ?? { kind: 'bar', dimension: 'severity' };
      const setChart = (member: string, v: string | number | undefined) =>
        change((x) => {
          const next: Record<string, unknown> = { ...c };
          if (v === undefined || v === '') delete next[member];
          else next[member] = v;
          x.chart = next as Widget['chart'];
        });
      fields.push(sel('Chart', CHART_KINDS, c.kind, (v) => setChart('kind', v)));
      fields.push(sel('Dimension', c.kind === 'pie' ? DIMENSIONS.filter((d) => d !== 'time') : DIMENSIONS, c.dimension, (v) => setChart('dimension', v)));
      if (c.kind === 'stacked_bar' || c.kind === 'line')
        fields.push(sel('Series', DIMENSIONS.filter((d) => d !== 'time' && d !== c.dimension), c.series ?? '', (v) => setChart('series', v), c.kind === 'line' ? [['', '(none)']] : []));
      fields.push(sel('Threats', c.dimension === 'time' ? POPULATIONS.filter((x) => x !== 'open') : POPULATIONS, c.population ?? 'active', (v) => setChart('population', v === 'active' ? undefined : v)));
      if ((c.kind === 'bar' || c.kind === 'line') && !c.series) fields.push(sel('Metric', METRICS, c.metric ?? 'count', (v) => setChart('metric', v === 'count' ? undefined : v)));
      if (c.dimension === 'time') fields.push(sel('Bucket', BUCKETS, c.bucket ?? 'auto', (v) => setChart('bucket', v === 'auto' ? undefined : v)));
      else {
        const limit = h('input', { type: 'number', min: 1, max: 50, value: String(c.limit ?? 10) });
        limit.addEventListener('change', () => setChart('limit', Math.max(1, Math.min(50, Number(limit.value) || 10))));
        fields.push(keyed('Values shown', limit));
      }
    } else {
      const t = w.table ?? { kind: 'top', dimension: 'rule' };
      const setTable = (member: string, v: unknown) =>
        change((x) => {
          const next: Record<string, unknown> = { ...t };
          if (v === undefined || v === '') delete next[member];
          else next[member] = v;
          x.table = next as Widget['table'];
        });
      fields.push(sel('Table', ['top', 'threats'], t.kind, (v) => setTable('kind', v)));
      if (t.kind === 'top') {
        fields.push(sel('Dimension', DIMENSIONS.filter((d) => d !== 'time'), t.dimension, (v) => setTable('dimension', v)));
        fields.push(sel('Metric', METRICS, t.metric ?? 'count', (v) => setTable('metric', v === 'count' ? undefined : v)));
        fields.push(sel('Threats', POPULATIONS, t.population ?? 'active', (v) => setTable('population', v === 'active' ? undefined : v)));
      } else {
        fields.push(sel('Sort', THREAT_SORTS, t.sort ?? 'score', (v) => setTable('sort', v)));
        const cols = new Set(t.columns ?? []);
        const boxes = THREAT_COLUMNS.map((col) => h('input', { type: 'checkbox', value: col, checked: cols.has(col), 'aria-label': `Column ${words(col)}` }));
        boxes.forEach((b) => b.addEventListener('change', () => setTable('columns', THREAT_COLUMNS.filter((col) => (col === b.value ? b.checked : cols.has(col))))));
        fields.push(h('fieldset', { class: 'columns-fields' }, h('legend', null, 'Columns'), boxes.map((b) => h('label', { class: 'inline' }, b, h('span', { 'aria-hidden': 'true' }, ` ${words(b.value)}`)))));
      }
      const limit = h('input', { type: 'number', min: 1, max: t.kind === 'top' ? 100 : 500, value: String(t.limit ?? (t.kind === 'top' ? 10 : 20)) });
      limit.addEventListener('change', () => setTable('limit', Number(limit.value) || undefined));
      fields.push(keyed('Rows', limit));
    }
    replace(
      configEl,
      h('h3', null, `Configure ${widgetLabel(w)}`, h('span', { class: 'muted small' }, ` (id ${w.id ?? `w${index + 1}`})`)),
      h('div', { class: 'form-grid inner' }, keyed('Widget title', title, 'grow'), fields, keyed('Width (columns)', wide), keyed('Height (rows)', high)),
      filterFields(w.filters, (f) => change((x) => {
        if (f) x.filters = f;
        else delete x.filters;
      }), 'Widget'),
    );
  }

  function drawBuilder(): void {
    if (mode !== 'builder') return;
    drawSettings();
    drawGrid();
    drawConfig();
    if (lastCheck?.text === text) showValidity(lastCheck.result);
  }

  // --- saving ---

  const form = h(
    'form',
    {
      class: 'editor',
      'aria-labelledby': 'editor-title',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        saveButton.disabled = true;
        try {
          const v = await checkNow();
          if (!v.valid) {
            status.say(`Not saved: ${describePath(text, v.errors[0].field)}: ${v.errors[0].message}`, true);
            return;
          }
          const spec = JSON.parse(text) as ReportDoc;
          if (id === null) {
            const r = await api<ReportRow>('POST', '/api/v1/reports', { query: projectQuery(project), body: { name: name.value.trim(), spec } });
            dirty = false;
            navigate(withProject(`/reports/${r.id}`, project));
          } else {
            const r = await api<ReportRow>('PUT', `/api/v1/reports/${id}`, { body: { name: name.value.trim(), spec, version: baseVersion ?? undefined } });
            baseVersion = r.version;
            dirty = false;
            status.say(`Saved version ${r.version}.`);
            heading.textContent = `Edit ${r.name}`;
            navigate(withProject(`/reports/${id}`, project));
          }
        } catch (err) {
          if (err instanceof ApiError && err.status === 409 && id !== null) status.say(`Not saved: someone saved this report since you opened it (${err.message}). Copy your JSON, reload and apply it again.`, true);
          else status.say(`Not saved: ${errorText(err)}`, true);
        } finally {
          saveButton.disabled = false;
        }
      },
    },
    h('div', { class: 'page-head' }, heading, h('div', { class: 'row' }, field('Name', name), saveButton, h('a', { class: 'button secondary', href: withProject(id === null ? '/reports' : `/reports/${id}`, project) }, 'Cancel'))),
  );
  heading.id = 'editor-title';

  replace(
    main,
    crumbs(project),
    form,
    status.el,
    h(
      'div',
      { class: 'editor-grid' },
      h('section', { class: 'card editor-pane', 'aria-label': 'Editor' }, h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Edit as' }, tabBuilder, tabJson), validity, panelBuilder, panelJson),
      h('section', { class: 'card preview-pane', 'aria-labelledby': 'preview-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'preview-title' }, 'Preview'), previewState), frames),
    ),
  );
  const beforeUnload = (e: BeforeUnloadEvent) => {
    if (dirty) e.preventDefault();
  };
  window.addEventListener('beforeunload', beforeUnload);
  setLeaveGuard(() => !dirty || confirm('Leave the editor? The changes to this report are not saved.'));

  (async () => {
    try {
      if (id !== null) {
        const r = await api<ReportRow>('GET', `/api/v1/reports/${id}`, { signal: abort.signal });
        name.value = r.name;
        baseVersion = r.version;
        heading.textContent = `Edit ${r.name}`;
        doc = r.spec ?? blankDoc();
        const version = Number(url.searchParams.get('version'));
        if (version && version !== r.version) {
          const v = await api<{ items: Version[] }>('GET', `/api/v1/reports/${id}/versions`, { signal: abort.signal });
          const old = v.items.find((x) => x.version === version);
          if (old) {
            doc = old.spec;
            status.say(`Editing from version ${version}; saving makes it version ${r.version + 1}.`);
          }
        }
      } else {
        const template = url.searchParams.get('template');
        if (template) {
          const r = await api<{ items: Template[] }>('GET', '/api/v1/reports/templates', { query: projectQuery(project), signal: abort.signal });
          const t = r.items.find((x) => x.name === template);
          if (!t) throw new Error(`no template ${template}`);
          doc = t.spec;
          name.value = t.title;
          heading.textContent = `New report from ${t.title}`;
        }
      }
      text = formatDoc(doc);
      jsonText.value = text;
      drawPalette();
      await setMode('builder', true);
      scheduleCheck(0);
    } catch (e) {
      if ((e as Error).name !== 'AbortError') status.say(`Could not open: ${errorText(e)}`, true);
    }
  })();

  return {
    destroy() {
      abort.abort();
      window.clearTimeout(validateTimer);
      window.clearTimeout(previewTimer);
      window.removeEventListener('beforeunload', beforeUnload);
      setLeaveGuard(null);
      void checking;
    },
  };
}
