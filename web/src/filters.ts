// The Threats Overview's filter state and its two spellings: the browser URL (so a view can be
// bookmarked and shared) and the API's query string / bulk filter JSON. Pure functions, no DOM.

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const KINDS = ['THREAT', 'SIGNAL'] as const;
export const SORTS = ['last_seen', 'score', 'severity', 'created'] as const;
export type SortKey = (typeof SORTS)[number];
export type Split = 'severity' | 'group';
export type OpenFilter = '' | 'true' | 'false';

export interface Filters {
  project: string;
  group: string[]; // "" means "no group"
  state: string[];
  severity: Severity[];
  source: string[];
  owner: string[]; // "" means "no owner"
  kind: string[];
  entity: string;
  host: string;
  entity_group: string;
  text: string;
  open: OpenFilter;
  from: string; // RFC 3339 or a date, as typed; "" when unset
  to: string;
  sort: SortKey;
  order: 'asc' | 'desc';
  split: Split;
  limit: number;
}

export const PAGE_SIZES = [50, 100, 200, 500] as const;

export function emptyFilters(): Filters {
  return {
    project: '',
    group: [],
    state: [],
    severity: [],
    source: [],
    owner: [],
    kind: [],
    entity: '',
    host: '',
    entity_group: '',
    text: '',
    open: '',
    from: '',
    to: '',
    sort: 'last_seen',
    order: 'desc',
    split: 'severity',
    limit: 50,
  };
}

const LIST_KEYS = ['group', 'state', 'source', 'owner'] as const;
const TEXT_KEYS = ['entity', 'host', 'entity_group', 'text', 'from', 'to'] as const;

function splitCsv(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim().toUpperCase())
    .filter((v) => v !== '');
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** Reads the filter from a URL query string ("?a=b&..." or "a=b&..."); unknown values are dropped. */
export function parseFilters(search: string): Filters {
  const p = new URLSearchParams(search);
  const f = emptyFilters();
  f.project = p.get('project') ?? '';
  for (const key of LIST_KEYS) f[key] = unique(p.getAll(key));
  f.severity = unique(
    p.getAll('severity').flatMap(splitCsv).filter((s): s is Severity =>
      (SEVERITIES as readonly string[]).includes(s),
    ),
  );
  f.kind = unique(
    p.getAll('kind').flatMap(splitCsv).filter((k) => (KINDS as readonly string[]).includes(k)),
  );
  for (const key of TEXT_KEYS) f[key] = p.get(key) ?? '';
  if (!f.text) f.text = p.get('q') ?? '';
  const open = p.get('open');
  f.open = open === 'true' || open === 'false' ? open : '';
  const sort = p.get('sort');
  if (sort && (SORTS as readonly string[]).includes(sort)) f.sort = sort as SortKey;
  f.order = p.get('order') === 'asc' ? 'asc' : 'desc';
  f.split = p.get('split') === 'group' ? 'group' : 'severity';
  const limit = Number(p.get('limit'));
  if ((PAGE_SIZES as readonly number[]).includes(limit)) f.limit = limit;
  return f;
}

function appendFilterParams(p: URLSearchParams, f: Filters): void {
  for (const key of LIST_KEYS) for (const v of f[key]) p.append(key, v);
  if (f.severity.length) p.set('severity', f.severity.join(','));
  if (f.kind.length) p.set('kind', f.kind.join(','));
  for (const key of TEXT_KEYS) if (f[key]) p.set(key, f[key]);
  if (f.open) p.set('open', f.open);
}

/** The browser URL's query string (without "?"): only what differs from the defaults. */
export function filtersToSearch(f: Filters): string {
  const p = new URLSearchParams();
  if (f.project) p.set('project', f.project);
  appendFilterParams(p, f);
  if (f.sort !== 'last_seen') p.set('sort', f.sort);
  if (f.order !== 'desc') p.set('order', f.order);
  if (f.split !== 'severity') p.set('split', f.split);
  if (f.limit !== 50) p.set('limit', String(f.limit));
  return p.toString();
}

/** Query parameters for GET /api/v1/threats and /api/v1/overview. */
export function apiParams(f: Filters, opts: { overview?: boolean; cursor?: string } = {}): URLSearchParams {
  const p = new URLSearchParams();
  if (f.project) p.set('project', f.project);
  appendFilterParams(p, f);
  p.set('sort', f.sort);
  p.set('order', f.order);
  p.set('limit', String(f.limit));
  if (opts.overview) p.set('split', f.split);
  if (opts.cursor) p.set('cursor', opts.cursor);
  return p;
}

/** The "filter" member of POST /api/v1/threats/bulk (the same filter as JSON). */
export function bulkFilter(f: Filters): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of LIST_KEYS) if (f[key].length) out[key] = [...f[key]];
  if (f.severity.length) out.severity = [...f.severity];
  if (f.kind.length) out.kind = [...f.kind];
  for (const key of TEXT_KEYS) if (f[key]) out[key] = f[key];
  if (f.open) out.open = f.open === 'true';
  return out;
}

/** Adds the value when absent, removes it when present. */
export function toggle<T>(values: readonly T[], value: T): T[] {
  return values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
}

/** True when any member narrows the set (sort, split and page size do not). */
export function isFiltered(f: Filters): boolean {
  return (
    LIST_KEYS.some((k) => f[k].length > 0) ||
    f.severity.length > 0 ||
    f.kind.length > 0 ||
    TEXT_KEYS.some((k) => f[k] !== '') ||
    f.open !== ''
  );
}

/** A filter with every narrowing member cleared; project, sort, split and page size stay. */
export function clearFilters(f: Filters): Filters {
  return { ...emptyFilters(), project: f.project, sort: f.sort, order: f.order, split: f.split, limit: f.limit };
}

/** The active filter values as removable pills: [key, value, label]. */
export function activePills(f: Filters): { key: keyof Filters; value: string; label: string }[] {
  const pills: { key: keyof Filters; value: string; label: string }[] = [];
  const names: Record<string, string> = {
    group: 'Group',
    state: 'State',
    source: 'Source',
    owner: 'Owner',
    severity: 'Severity',
    kind: 'Kind',
    entity: 'Entity',
    host: 'Host',
    entity_group: 'Entity group',
    text: 'Text',
    from: 'From',
    to: 'To',
  };
  for (const key of [...LIST_KEYS, 'severity', 'kind'] as const)
    for (const v of f[key] as string[])
      pills.push({ key, value: v, label: `${names[key]}: ${v === '' ? '(none)' : v}` });
  for (const key of TEXT_KEYS) if (f[key]) pills.push({ key, value: f[key], label: `${names[key]}: ${f[key]}` });
  if (f.open) pills.push({ key: 'open', value: f.open, label: f.open === 'true' ? 'Open only' : 'Closed only' });
  return pills;
}

/** Removes one pill's value from the filter. */
export function removePill(f: Filters, key: keyof Filters, value: string): Filters {
  const next = { ...f };
  const current = next[key];
  if (Array.isArray(current)) (next as Record<string, unknown>)[key] = (current as string[]).filter((v) => v !== value);
  else if (key === 'open') next.open = '';
  else (next as Record<string, unknown>)[key] = '';
  return next;
}

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

/** The time range that a "By Time Period" bar stands for, against `now` (ms). */
export function periodRange(name: string, now: number): { from: string; to: string } | null {
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  switch (name) {
    case 'last_24_hours':
      return { from: iso(now - DAY), to: '' };
    case 'last_7_days':
      return { from: iso(now - 7 * DAY), to: '' };
    case 'last_30_days':
      return { from: iso(now - 30 * DAY), to: '' };
    case 'older':
      return { from: '', to: iso(now - 30 * DAY) };
    default:
      return null;
  }
}

/** A range dragged on the timeline (seconds since the epoch) as from/to, whole minutes outward. */
export function zoomRange(fromSec: number, toSec: number): { from: string; to: string } {
  const lo = Math.floor(Math.min(fromSec, toSec) / 60) * 60;
  let hi = Math.ceil(Math.max(fromSec, toSec) / 60) * 60;
  if (hi <= lo) hi = lo + 60;
  const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { from: iso(lo), to: iso(hi) };
}
