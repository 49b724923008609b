// The Threats Overview: filters (in the URL), the Threat Timeline (drag to zoom), open-threat
// severity chips, breakdowns that filter on click, the threat list with the Quick Action toolbar,
// and polling that brings in new threats without losing the selection or the scroll position.
import { api, errorText, type BulkResult, type NamedCount, type Overview, type Threat, type ThreatPage } from '../api';
import { seriesColor, TimelineChart } from '../chart';
import { field, h, replace, select } from '../dom';
import {
  activePills,
  apiParams,
  bulkFilter,
  clearFilters,
  filtersToSearch,
  isFiltered,
  PAGE_SIZES,
  parseFilters,
  periodRange,
  removePill,
  SEVERITIES,
  toggle,
  zoomRange,
  type Filters,
  type SortKey,
} from '../filters';
import {
  bulkSummary,
  formatAgo,
  formatCompact,
  formatCount,
  formatTime,
  fromLocalInput,
  periodLabel,
  severityLabel,
  toLocalInput,
} from '../format';
import { navigate, type Page } from '../router';
import { canWork, closedState, session } from '../session';

/** How often the page asks for new threats. */
export const POLL_MS = 5000;
const BUCKET_SECONDS: Record<string, number> = { hour: 3600, day: 86400, week: 7 * 86400 };
const ANY = '\u0001any';

export function overviewPage(main: HTMLElement, url: URL, project: string): Page {
  let filters: Filters = parseFilters(url.search);
  if (!filters.project) filters.project = project;
  sessionStorage.setItem('td-last-overview', url.pathname + url.search);

  let overview: Overview | null = null;
  let page: ThreatPage = { items: [], next_cursor: null, total: 0 };
  let cursors: string[] = ['']; // cursors[i] fetched page i
  let pageIndex = 0;
  const selection = new Set<number>();
  let allMatching = false;
  let focusIndex = -1;
  const seenIds = new Set<number>();
  let firstLoad = true;
  let controller: AbortController | null = null;
  let pollTimer = 0;
  let destroyed = false;
  const work = canWork();

  // --- skeleton -------------------------------------------------------------------------------
  const errorBox = h('div', { class: 'error banner', role: 'alert', hidden: true });
  const live = h('div', { class: 'sr-only', 'aria-live': 'polite' });
  const filterForm = h('form', { class: 'filters card', role: 'search', 'aria-label': 'Threat filters' });
  const pills = h('div', { class: 'pills', 'aria-label': 'Active filters' });
  const chartEl = h('div', { class: 'chart', role: 'img', 'aria-label': 'Threat timeline' });
  const chartEmpty = h('p', { class: 'muted empty', hidden: true }, 'No threats in this range.');
  const splitButtons = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Split the timeline by' });
  const bucketNote = h('span', { class: 'muted small' });
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Open threats by severity' });
  const breakdowns = h('div', { class: 'breakdowns' });
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Quick actions', hidden: true });
  const result = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const table = h('table', { class: 'threats' });
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const listTitle = h('h2', { id: 'list-title' }, 'Threats');
  const exportLink = h('a', { class: 'button secondary small', download: 'threats.csv' }, 'Export CSV');
  const listBusy = h('div', { class: 'spinner', role: 'progressbar', 'aria-label': 'Loading threats', hidden: true });

  const chart = new TimelineChart(chartEl, (a, b) => {
    const r = zoomRange(a, b);
    setFilters({ ...filters, from: r.from, to: r.to });
  });

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', null, 'Threats Overview'), listBusy),
    errorBox,
    filterForm,
    pills,
    h(
      'section',
      { class: 'card timeline', 'aria-labelledby': 'timeline-title' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { id: 'timeline-title' }, 'Threat Timeline'),
        bucketNote,
        h('span', { class: 'muted small hint' }, 'Drag across the chart to zoom'),
        splitButtons,
      ),
      chartEl,
      chartEmpty,
    ),
    h('section', { 'aria-labelledby': 'chips-title' }, h('h2', { id: 'chips-title', class: 'sr-only' }, 'Open threats by severity'), chips),
    breakdowns,
    h(
      'section',
      { class: 'card list', 'aria-labelledby': 'list-title' },
      h('div', { class: 'card-head' }, listTitle, h('span', { class: 'muted small hint' }, 'j/k move · x select · Enter open · / search'), exportLink),
      toolbar,
      result,
      h('div', { class: 'table-wrap' }, table),
      pager,
    ),
    live,
  );

  // --- filters --------------------------------------------------------------------------------
  function setFilters(next: Filters, opts: { replace?: boolean } = {}): void {
    navigate(`/threats?${filtersToSearch(next)}`, opts);
  }

  // One search box for the page's life, so typing is never lost to a re-render.
  const text = h('input', { type: 'search', id: 'filter-text', placeholder: 'Name, entity, host or rule', autocomplete: 'off' });
  text.value = filters.text;
  let debounce = 0;
  text.addEventListener('input', () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => setFilters({ ...filters, text: text.value.trim() }, { replace: true }), 400);
  });

  function renderFilterForm(): void {
    // Re-rendering must not throw the keyboard user out of the control they just used.
    const controls = () => Array.from(filterForm.querySelectorAll<HTMLElement>('input, select'));
    const focusedAt = controls().indexOf(document.activeElement as HTMLElement);
    if (document.activeElement !== text) text.value = filters.text;
    const optionsOf = (values: string[], anyLabel: string, noneLabel?: string): [string, string][] => [
      [ANY, anyLabel],
      ...values.map((v): [string, string] => [v, v]),
      ...(noneLabel ? [['', noneLabel] as [string, string]] : []),
    ];
    const single = (key: 'group' | 'state' | 'owner' | 'source' | 'kind', opts: [string, string][]) =>
      select(
        {
          onchange: (e: Event) => {
            const v = (e.target as HTMLSelectElement).value;
            setFilters({ ...filters, [key]: v === ANY ? [] : [v] });
          },
        },
        opts,
        filters[key].length ? filters[key][0] : ANY,
      );
    const sources = new Set<string>(['API', ...(overview?.by_source.map((s) => s.name) ?? []), ...filters.source]);
    const owners = session.users.map((u) => u.email);
    const open = select(
      { onchange: (e: Event) => setFilters({ ...filters, open: (e.target as HTMLSelectElement).value as Filters['open'] }) },
      [
        ['', 'Open and closed'],
        ['true', 'Open'],
        ['false', 'Closed'],
      ],
      filters.open,
    );
    const from = h('input', { type: 'datetime-local', value: toLocalInput(filters.from) });
    const to = h('input', { type: 'datetime-local', value: toLocalInput(filters.to) });
    from.addEventListener('change', () => setFilters({ ...filters, from: fromLocalInput(from.value) }));
    to.addEventListener('change', () => setFilters({ ...filters, to: fromLocalInput(to.value) }));
    const preset = select(
      {
        onchange: (e: Event) => {
          const v = (e.target as HTMLSelectElement).value;
          if (v === 'custom') return;
          const r = v === 'all' ? { from: '', to: '' } : periodRange(v, Date.now());
          if (r) setFilters({ ...filters, from: r.from, to: r.to });
        },
      },
      [
        ['custom', filters.from || filters.to ? 'Custom range' : 'Last 30 days (default)'],
        ['last_24_hours', 'Last 24 hours'],
        ['last_7_days', 'Last 7 days'],
        ['last_30_days', 'Last 30 days'],
        ['all', 'Clear range'],
      ],
      'custom',
    );
    const entity = h('input', { type: 'text', value: filters.entity, placeholder: 'value or type:value' });
    entity.addEventListener('change', () => setFilters({ ...filters, entity: entity.value.trim() }));
    const host = h('input', { type: 'text', value: filters.host });
    host.addEventListener('change', () => setFilters({ ...filters, host: host.value.trim() }));
    const sourceList = h('datalist', { id: 'source-options' }, [...sources].map((s) => h('option', { value: s })));
    replace(
      filterForm,
      field('Search', text, 'grow'),
      field('Group', single('group', optionsOf(session.tags.group, 'Any group', '(no group)'))),
      field('State', single('state', optionsOf(session.tags.state, 'Any state'))),
      field('Status', open),
      field('Source', single('source', optionsOf([...sources], 'Any source'))),
      field('Owner', single('owner', optionsOf(owners, 'Anyone', '(unassigned)'))),
      field('Kind', single('kind', optionsOf(['THREAT', 'SIGNAL'], 'Any kind'))),
      field('Range', preset),
      h(
        'details',
        { class: 'more', open: filters.from || filters.to || filters.entity || filters.host ? true : undefined },
        h('summary', null, 'More filters'),
        h('div', { class: 'more-fields' }, field('From (UTC)', from), field('To (UTC)', to), field('Entity', entity), field('Host', host)),
      ),
      sourceList,
    );
    if (focusedAt >= 0) controls()[focusedAt]?.focus();
    filterForm.onsubmit = (e) => {
      e.preventDefault();
      window.clearTimeout(debounce);
      setFilters({ ...filters, text: text.value.trim() });
    };

    const active = activePills(filters);
    replace(
      pills,
      active.map((p) =>
        h(
          'button',
          {
            type: 'button',
            class: 'pill',
            'aria-label': `Remove filter ${p.label}`,
            onclick: () => setFilters(removePill(filters, p.key, p.value)),
          },
          p.label,
          h('span', { 'aria-hidden': 'true' }, ' ×'),
        ),
      ),
      isFiltered(filters)
        ? h('button', { type: 'button', class: 'link', onclick: () => setFilters(clearFilters(filters)) }, 'Clear all filters')
        : null,
    );

    replace(
      splitButtons,
      (['severity', 'group'] as const).map((s) =>
        h(
          'button',
          { type: 'button', 'aria-pressed': String(filters.split === s), onclick: () => setFilters({ ...filters, split: s }) },
          s === 'severity' ? 'By severity' : 'By group',
        ),
      ),
    );
    exportLink.setAttribute('href', `/api/v1/threats/export?${apiParams(filters).toString().replace(/&?limit=\d+/, '')}&format=csv`);
  }

  // --- charts, chips, breakdowns --------------------------------------------------------------
  function renderCharts(o: Overview): void {
    const bucket = BUCKET_SECONDS[o.bucket] ?? 86400;
    const starts = o.timeline.map((b) => Date.parse(b.start) / 1000);
    const total = o.timeline.reduce((n, b) => n + b.counts.reduce((a, c) => a + c, 0), 0);
    chartEmpty.hidden = total > 0;
    bucketNote.textContent = `per ${o.bucket}`;
    chartEl.setAttribute(
      'aria-label',
      `Threat timeline: ${formatCount(total)} threats in ${o.timeline.length} ${o.bucket} buckets, split by ${filters.split}`,
    );
    chart.update({
      starts,
      bucketSeconds: bucket,
      series: o.series.map((name, k) => ({
        label: filters.split === 'severity' ? severityLabel(name) : name || '(no group)',
        color: seriesColor(filters.split, name, k),
        counts: o.timeline.map((b) => b.counts[k] ?? 0),
      })),
    });

    replace(
      chips,
      SEVERITIES.map((s) => {
        const n = o.open_by_severity[s] ?? 0;
        const on = filters.severity.includes(s);
        return h(
          'button',
          {
            type: 'button',
            class: `chip sev-${s.toLowerCase()}`,
            'aria-pressed': String(on),
            'aria-label': `${severityLabel(s)}: ${formatCount(n)} open`,
            title: on ? 'Remove this severity from the filter' : 'Show only this severity',
            onclick: () => setFilters({ ...filters, severity: toggle(filters.severity, s) }),
          },
          h('span', { class: 'chip-label' }, severityLabel(s)),
          h('span', { class: 'chip-count', dataset: { severity: s } }, formatCompact(n)),
        );
      }),
    );

    const card = (
      title: string,
      rows: NamedCount[],
      label: (n: string) => string,
      active: (n: string) => boolean,
      onPick: ((n: string) => void) | null,
    ) => {
      const max = Math.max(1, ...rows.map((r) => r.count));
      return h(
        'section',
        { class: 'card breakdown', 'aria-label': title },
        h('h2', null, title),
        rows.length === 0
          ? h('p', { class: 'muted' }, 'Nothing open here.')
          : h(
              'ul',
              { class: 'bars' },
              rows.map((r) => {
                const inner = [
                  h('span', { class: 'bar-name' }, label(r.name)),
                  h('span', { class: 'bar-count' }, formatCount(r.count)),
                  h('span', { class: 'bar-fill', style: `width:${((r.count / max) * 100).toFixed(1)}%`, 'aria-hidden': 'true' }),
                ];
                return h(
                  'li',
                  null,
                  onPick
                    ? h(
                        'button',
                        {
                          type: 'button',
                          class: 'bar',
                          'aria-pressed': String(active(r.name)),
                          title: `Filter the list: ${label(r.name)}`,
                          onclick: () => onPick(r.name),
                        },
                        inner,
                      )
                    : h('div', { class: 'bar static' }, inner),
                );
              }),
            ),
      );
    };
    const now = Date.now();
    replace(
      breakdowns,
      card(
        'By Entity Group',
        o.by_entity_group,
        (n) => n,
        (n) => filters.entity_group === n,
        (n) => setFilters({ ...filters, entity_group: filters.entity_group === n ? '' : n }),
      ),
      card(
        'By Source',
        o.by_source,
        (n) => n,
        (n) => filters.source.includes(n),
        (n) => setFilters({ ...filters, source: filters.source.includes(n) ? [] : [n] }),
      ),
      card(
        'By Time Period',
        o.by_period,
        periodLabel,
        (n) => {
          const r = periodRange(n, now);
          return !!r && !!filters.from === !!r.from && !!filters.to === !!r.to && (filters.from !== '' || filters.to !== '');
        },
        (n) => {
          const r = periodRange(n, Date.now());
          if (r) setFilters({ ...filters, from: r.from, to: r.to });
        },
      ),
      card(
        'By Host',
        o.by_host,
        (n) => n,
        (n) => filters.host === n,
        (n) => setFilters({ ...filters, host: filters.host === n ? '' : n }),
      ),
    );
  }

  // --- the list -------------------------------------------------------------------------------
  function sortHeader(label: string, key: SortKey | null, cls = ''): HTMLTableCellElement {
    if (!key) return h('th', { scope: 'col', class: cls }, label);
    const active = filters.sort === key;
    const dir = active ? (filters.order === 'asc' ? 'ascending' : 'descending') : 'none';
    return h(
      'th',
      { scope: 'col', class: cls, 'aria-sort': dir },
      h(
        'button',
        {
          type: 'button',
          class: 'sort',
          onclick: () =>
            setFilters({ ...filters, sort: key, order: active && filters.order === 'desc' ? 'asc' : 'desc' }),
        },
        label,
        h('span', { 'aria-hidden': 'true' }, active ? (filters.order === 'asc' ? ' ▲' : ' ▼') : ''),
      ),
    );
  }

  const headCheckbox = h('input', { type: 'checkbox', 'aria-label': 'Select all threats on this page' });
  headCheckbox.addEventListener('change', () => {
    allMatching = false;
    for (const t of page.items) {
      if (headCheckbox.checked) selection.add(t.id);
      else selection.delete(t.id);
    }
    syncSelection();
  });

  function renderHead(): void {
    replace(
      table,
      h('caption', { class: 'sr-only' }, 'Threats matching the filters'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          work ? h('th', { scope: 'col', class: 'check' }, headCheckbox) : null,
          sortHeader('Score', 'score', 'num'),
          sortHeader('Severity', 'severity'),
          sortHeader('Name', null, 'name'),
          sortHeader('Source', null, 'opt'),
          sortHeader('Group', null),
          sortHeader('Owner', null, 'opt'),
          sortHeader('State', null),
          sortHeader('Entity', null, 'opt'),
          sortHeader('Last seen', 'last_seen'),
          sortHeader('Count', null, 'num opt'),
        ),
      ),
      tbody,
    );
  }

  function signature(t: Threat): string {
    return [t.score, t.severity, t.name, t.source, t.group, t.owner, t.state, t.outcome, t.last_seen, t.count].join('\u0000');
  }

  function rowFor(t: Threat, now: number): HTMLTableRowElement {
    const entity = t.entity ? `${t.entity.type}: ${t.entity.value}` : '—';
    const tr = h(
      'tr',
      { tabindex: '-1', dataset: { id: String(t.id), sig: signature(t) } },
      work
        ? h(
            'td',
            { class: 'check' },
            h('input', {
              type: 'checkbox',
              class: 'row-check',
              'aria-label': `Select threat ${t.id}: ${t.name}`,
              checked: selection.has(t.id) || allMatching,
              onchange: (e: Event) => {
                const on = (e.target as HTMLInputElement).checked;
                if (allMatching) {
                  allMatching = false;
                  page.items.forEach((i) => selection.add(i.id));
                }
                if (on) selection.add(t.id);
                else selection.delete(t.id);
                syncSelection();
              },
            }),
          )
        : null,
      h('td', { class: 'num' }, h('span', { class: 'score' }, String(t.score))),
      h('td', null, h('span', { class: `sev sev-${t.severity.toLowerCase()}` }, severityLabel(t.severity))),
      h(
        'td',
        { class: 'name' },
        h('a', { href: `/threats/${t.id}?project=${encodeURIComponent(filters.project)}` }, t.name),
        t.kind === 'SIGNAL' ? h('span', { class: 'tag' }, 'signal') : null,
      ),
      h('td', { class: 'opt' }, t.source),
      h('td', { class: 'nowrap' }, t.group ?? h('span', { class: 'muted' }, '—')),
      h('td', { class: 'opt' }, t.owner ?? h('span', { class: 'muted' }, '—')),
      h('td', null, h('span', { class: `state${t.closed ? ' closed' : ''}` }, t.state), t.outcome ? h('span', { class: 'muted small' }, ` (${t.outcome})`) : null),
      h('td', { class: 'opt entity' }, entity),
      h('td', { class: 'nowrap' }, h('time', { datetime: t.last_seen, title: formatTime(t.last_seen) }, formatAgo(t.last_seen, now))),
      h('td', { class: 'num opt' }, formatCount(t.count)),
    );
    return tr;
  }

  /** Brings the rows in line with `page.items`, reusing unchanged rows (focus and scroll stay). */
  function patchRows(): number {
    const now = Date.now();
    // The first row in view anchors the scroll position while rows above it come and go.
    let anchor: { id: string; top: number } | null = null;
    for (const tr of Array.from(tbody.rows)) {
      const top = tr.getBoundingClientRect().top;
      if (top >= 0) {
        anchor = { id: tr.dataset.id ?? '', top };
        break;
      }
    }
    const focused = document.activeElement;
    const existing = new Map<string, HTMLTableRowElement>();
    for (const tr of Array.from(tbody.rows)) if (tr.dataset.id) existing.set(tr.dataset.id, tr);
    let added = 0;
    const rows = page.items.map((t) => {
      const old = existing.get(String(t.id));
      if (old && old.dataset.sig === signature(t)) {
        // Keep the element; only the relative time moves on.
        const time = old.querySelector('time');
        if (time) time.textContent = formatAgo(t.last_seen, now);
        return old;
      }
      const tr = rowFor(t, now);
      if (!seenIds.has(t.id) && !firstLoad) {
        tr.classList.add('fresh');
        added += 1;
      }
      return tr;
    });
    page.items.forEach((t) => seenIds.add(t.id));
    rows.forEach((tr, i) => {
      if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] ?? null);
    });
    while (tbody.rows.length > rows.length) tbody.deleteRow(rows.length);
    if (focused instanceof HTMLElement && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
    if (anchor) {
      const tr = tbody.querySelector<HTMLTableRowElement>(`tr[data-id="${anchor.id}"]`);
      if (tr) {
        const delta = tr.getBoundingClientRect().top - anchor.top;
        if (Math.abs(delta) > 0.5) window.scrollBy(0, delta);
      }
    }
    if (page.items.length === 0) {
      tbody.appendChild(
        h(
          'tr',
          { class: 'empty-row' },
          h(
            'td',
            { colspan: work ? 11 : 10 },
            'No threats match these filters. ',
            isFiltered(filters) ? h('button', { type: 'button', class: 'link', onclick: () => setFilters(clearFilters(filters)) }, 'Clear the filters') : null,
          ),
        ),
      );
    }
    firstLoad = false;
    return added;
  }

  function renderPager(): void {
    const start = pageIndex * filters.limit;
    const shown = page.items.length;
    const sizes = select(
      {
        'aria-label': 'Threats per page',
        onchange: (e: Event) => setFilters({ ...filters, limit: Number((e.target as HTMLSelectElement).value) }),
      },
      PAGE_SIZES.map((n) => [String(n), `${n} per page`]),
      String(filters.limit),
    );
    replace(
      pager,
      h('span', { class: 'muted', id: 'range' }, shown ? `${formatCount(start + 1)}–${formatCount(start + shown)} of ${formatCount(page.total)}` : `0 of ${formatCount(page.total)}`),
      sizes,
      h('button', { type: 'button', class: 'secondary', disabled: pageIndex === 0, onclick: () => goPage(pageIndex - 1) }, '‹ Previous'),
      h('button', { type: 'button', class: 'secondary', disabled: !page.next_cursor, onclick: () => goPage(pageIndex + 1) }, 'Next ›'),
    );
    listTitle.textContent = `Threats (${formatCount(page.total)})`;
  }

  async function goPage(i: number): Promise<void> {
    if (i > pageIndex && page.next_cursor) cursors[i] = page.next_cursor;
    pageIndex = i;
    selection.clear();
    allMatching = false;
    await loadPage(false, true);
    table.scrollIntoView({ block: 'start' });
  }

  // --- selection and the Quick Action toolbar -------------------------------------------------
  function selectedCount(): number {
    return allMatching ? page.total : selection.size;
  }

  function syncSelection(): void {
    for (const box of Array.from(tbody.querySelectorAll<HTMLInputElement>('input.row-check'))) {
      const id = Number((box.closest('tr') as HTMLTableRowElement).dataset.id);
      box.checked = allMatching || selection.has(id);
      box.closest('tr')!.classList.toggle('selected', box.checked);
    }
    const onPage = page.items.filter((t) => allMatching || selection.has(t.id)).length;
    headCheckbox.checked = page.items.length > 0 && onPage === page.items.length;
    headCheckbox.indeterminate = onPage > 0 && onPage < page.items.length;
    renderToolbar();
  }

  let toolbarAction = 'state';
  function renderToolbar(): void {
    const n = selectedCount();
    toolbar.hidden = !work || n === 0;
    if (toolbar.hidden) return;
    const pageAll = page.items.length > 0 && page.items.every((t) => selection.has(t.id));
    const scope = allMatching
      ? h('span', null, h('strong', null, `All ${formatCount(page.total)}`), ' matching the filter selected. ', h('button', { type: 'button', class: 'link', onclick: () => { allMatching = false; selection.clear(); syncSelection(); } }, 'Clear selection'))
      : h(
          'span',
          null,
          h('strong', null, `${formatCount(n)} selected`),
          pageAll && page.total > page.items.length
            ? h('button', { type: 'button', class: 'link', onclick: () => { allMatching = true; syncSelection(); } }, ` Select all ${formatCount(page.total)} matching the filter`)
            : null,
          ' ',
          h('button', { type: 'button', class: 'link', onclick: () => { selection.clear(); syncSelection(); } }, 'Clear'),
        );
    const action = select(
      { 'aria-label': 'Action', name: 'action' },
      [
        ['state', 'Change state'],
        ['close', 'Close with outcome'],
        ['group', 'Assign group'],
        ['owner', 'Assign owner'],
        ['note', 'Add note'],
      ],
      toolbarAction,
    );
    const valueBox = h('span', { class: 'toolbar-value' });
    const apply = h('button', { type: 'submit' }, 'Apply');
    let valueControl: HTMLSelectElement | HTMLInputElement;
    const buildValue = () => {
      const closed = closedState();
      switch (toolbarAction) {
        case 'state':
          valueControl = select({ 'aria-label': 'New state', name: 'value' }, session.tags.state.filter((s) => s !== closed).map((s) => [s, s]));
          break;
        case 'close':
          valueControl = select({ 'aria-label': 'Outcome', name: 'value' }, session.tags.outcome.map((s) => [s, s]));
          break;
        case 'group':
          valueControl = select({ 'aria-label': 'Group', name: 'value' }, [...session.tags.group.map((s): [string, string] => [s, s]), ['', '(no group)']]);
          break;
        case 'owner':
          valueControl = select({ 'aria-label': 'Owner', name: 'value' }, [
            ...(session.me?.user ? [[session.me.user.email, `Me (${session.me.user.email})`] as [string, string]] : []),
            ...session.users.filter((u) => u.email !== session.me?.user?.email).map((u): [string, string] => [u.email, u.email]),
            ['', '(unassigned)'],
          ]);
          break;
        default:
          valueControl = h('input', { type: 'text', name: 'value', 'aria-label': 'Note', placeholder: 'Note text', required: true, maxlength: 65536 });
      }
      replace(valueBox, valueControl);
    };
    action.addEventListener('change', () => {
      toolbarAction = action.value;
      buildValue();
    });
    buildValue();
    const form = h(
      'form',
      {
        class: 'toolbar-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const v = valueControl.value;
          const change: Record<string, unknown> = {};
          if (toolbarAction === 'state') change.state = v;
          else if (toolbarAction === 'close') Object.assign(change, { state: closedState(), outcome: v });
          else if (toolbarAction === 'group') change.group = v;
          else if (toolbarAction === 'owner') change.owner = v;
          else {
            if (!v.trim()) return;
            change.note = v.trim();
          }
          void runBulk(change, apply);
        },
      },
      action,
      valueBox,
      apply,
    );
    replace(toolbar, h('div', { class: 'toolbar-scope' }, scope), form);
  }

  function describe(change: Record<string, unknown>): string {
    if ('outcome' in change) return `close as ${change.outcome}`;
    if ('state' in change) return `set state to ${change.state}`;
    if ('group' in change) return change.group ? `assign group ${change.group}` : 'clear the group';
    if ('owner' in change) return change.owner ? `assign to ${change.owner}` : 'unassign';
    return 'add the note';
  }

  async function confirmDialog(message: string): Promise<boolean> {
    return new Promise((resolve) => {
      const dialog = h(
        'dialog',
        { class: 'confirm', 'aria-labelledby': 'confirm-text' },
        h('p', { id: 'confirm-text' }, message),
        h(
          'form',
          { method: 'dialog', class: 'row' },
          h('button', { value: 'cancel', class: 'secondary' }, 'Cancel'),
          h('button', { value: 'ok', autofocus: true }, 'Change them'),
        ),
      );
      dialog.addEventListener('close', () => {
        resolve(dialog.returnValue === 'ok');
        dialog.remove();
      });
      document.body.appendChild(dialog);
      dialog.showModal();
    });
  }

  async function runBulk(change: Record<string, unknown>, button: HTMLButtonElement): Promise<void> {
    const n = selectedCount();
    const body: Record<string, unknown> = { change };
    if (allMatching) {
      if (n > 10000) {
        showResult(`At most 10,000 threats change at once; narrow the filter (${formatCount(n)} match).`, true);
        return;
      }
      const ok = await confirmDialog(`${describe(change)} on all ${formatCount(n)} threats matching the filter?`.replace(/^./, (c) => c.toUpperCase()));
      if (!ok) return;
      body.filter = bulkFilter(filters);
    } else {
      body.ids = [...selection];
    }
    button.disabled = true;
    button.textContent = 'Applying…';
    try {
      const r = await api<BulkResult>('POST', '/api/v1/threats/bulk', { body, query: filters.project ? new URLSearchParams({ project: filters.project }) : undefined });
      const failures = r.failed.slice(0, 5).map((f) => `#${f.id}: ${f.error.message}${f.error.field ? ` (${f.error.field})` : ''}`);
      showResult(`${bulkSummary(r)}${failures.length ? ' ' + failures.join('; ') : ''}`, r.failed.length > 0);
      allMatching = false;
      await loadPage(true, false, true);
    } catch (e) {
      showResult(`Nothing changed: ${errorText(e)}`, true);
    } finally {
      button.disabled = false;
      button.textContent = 'Apply';
    }
  }

  function showResult(text: string, isError: boolean): void {
    replace(result, h('span', { class: isError ? 'error' : 'ok' }, text), ' ', h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => replace(result) }, '×'));
  }

  // --- loading and polling --------------------------------------------------------------------
  function showError(e: unknown): void {
    errorBox.textContent = `Could not load the threats: ${errorText(e)}`;
    errorBox.hidden = false;
  }

  /** Loads the overview (counts, charts, first page) and, past page one, the current page. */
  async function loadPage(quiet: boolean, listOnly = false, pruneSelection = false): Promise<void> {
    controller?.abort();
    const ctl = new AbortController();
    controller = ctl;
    if (!quiet) {
      listBusy.hidden = false;
      main.setAttribute('aria-busy', 'true');
    }
    try {
      // Paging asks only for the page; the counts and charts do not change with it. Otherwise
      // the overview and (past page one) the page are asked for at the same time.
      const pageRequest =
        pageIndex > 0 ? api<ThreatPage>('GET', '/api/v1/threats', { query: apiParams(filters, { cursor: cursors[pageIndex] }), quiet, signal: ctl.signal }) : null;
      pageRequest?.catch(() => {}); // its failure is reported when it is awaited below
      const o =
        listOnly && overview && pageRequest
          ? overview
          : await api<Overview>('GET', '/api/v1/overview', { query: apiParams(filters, { overview: true }), quiet, signal: ctl.signal });
      const p = pageRequest ? await pageRequest : o.threats;
      if (destroyed || ctl !== controller) return;
      errorBox.hidden = true;
      const chartsChanged = !overview || JSON.stringify({ ...o, threats: null }) !== JSON.stringify({ ...overview, threats: null });
      const hadSources = overview?.by_source.map((s) => s.name).join() ?? '';
      overview = o;
      page = p;
      if (chartsChanged) renderCharts(o);
      if (o.by_source.map((s) => s.name).join() !== hadSources && document.activeElement?.closest('form') !== filterForm) renderFilterForm();
      // A background refresh keeps the selection even when new threats push a selected row to
      // the next page; after an action, rows that left the view leave the selection.
      if (!quiet || pruneSelection) {
        const visible = new Set(p.items.map((t) => t.id));
        for (const id of [...selection]) if (!visible.has(id)) selection.delete(id);
      }
      const added = patchRows();
      if (added > 0) live.textContent = `${added} new or changed threat${added === 1 ? '' : 's'}`;
      renderPager();
      syncSelection();
    } catch (e) {
      if ((e as Error).name !== 'AbortError' && !destroyed) showError(e);
    } finally {
      if (ctl === controller) {
        listBusy.hidden = true;
        main.removeAttribute('aria-busy');
      }
    }
  }

  function schedulePoll(): void {
    window.clearTimeout(pollTimer);
    pollTimer = window.setTimeout(async () => {
      if (destroyed) return;
      if (document.visibilityState === 'visible' && !document.querySelector('dialog[open]')) await loadPage(true);
      schedulePoll();
    }, POLL_MS);
  }

  // --- keyboard -------------------------------------------------------------------------------
  function onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target as HTMLElement;
    const typing = target.closest('input, select, textarea, [contenteditable]') && !(target as HTMLInputElement).classList?.contains('row-check');
    if (e.key === '/' && !typing) {
      e.preventDefault();
      (document.getElementById('filter-text') as HTMLInputElement | null)?.focus();
      return;
    }
    if (typing || document.querySelector('dialog[open]')) return;
    const rows = Array.from(tbody.querySelectorAll<HTMLTableRowElement>('tr[data-id]'));
    if (!rows.length) return;
    const current = rows.indexOf(document.activeElement?.closest('tr') as HTMLTableRowElement);
    if (current >= 0) focusIndex = current;
    if (e.key === 'j' || e.key === 'k') {
      e.preventDefault();
      focusIndex = Math.max(0, Math.min(rows.length - 1, focusIndex + (e.key === 'j' ? 1 : -1)));
      rows.forEach((r, i) => r.classList.toggle('current', i === focusIndex));
      rows[focusIndex].focus();
    } else if (e.key === 'x' && focusIndex >= 0 && work) {
      e.preventDefault();
      rows[focusIndex]?.querySelector<HTMLInputElement>('input.row-check')?.click();
      rows[focusIndex]?.focus();
    } else if ((e.key === 'Enter' || e.key === 'o') && focusIndex >= 0 && target.tagName !== 'A' && target.tagName !== 'BUTTON') {
      e.preventDefault();
      rows[focusIndex]?.querySelector('a')?.click();
    }
  }
  document.addEventListener('keydown', onKey);

  // --- start ----------------------------------------------------------------------------------
  renderFilterForm();
  renderHead();
  void loadPage(false).then(schedulePoll);

  return {
    update(next: URL) {
      const f = parseFilters(next.search);
      if (!f.project) f.project = filters.project;
      sessionStorage.setItem('td-last-overview', next.pathname + next.search);
      const sameList = filtersToSearch({ ...f, split: 'severity' }) === filtersToSearch({ ...filters, split: 'severity' });
      filters = f;
      if (!sameList) {
        cursors = [''];
        pageIndex = 0;
        selection.clear();
        allMatching = false;
        replace(result);
      }
      overview = null; // the charts redraw for the new filter
      renderFilterForm();
      renderHead();
      void loadPage(false);
    },
    destroy() {
      destroyed = true;
      controller?.abort();
      window.clearTimeout(pollTimer);
      document.removeEventListener('keydown', onKey);
      chart.destroy();
    },
  };
}
