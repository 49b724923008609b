// The REST API client: JSON in and out, the CSRF header on every change, errors as ApiError with
// the server's code, message and field. A 401 sends the browser to the sign-in page.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null,
    /** The whole error answer: some routes add detail beside "error" (rule diagnostics). */
    readonly body: unknown = null,
  ) {
    super(message);
  }
}

let csrfToken = '';
let inFlight = 0;
let onUnauthenticated: () => void = () => {};

export function setCsrf(token: string): void {
  csrfToken = token;
}
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

function progress(delta: number): void {
  inFlight += delta;
  const bar = document.getElementById('progress');
  if (bar) bar.hidden = inFlight <= 0;
}

export interface RequestOptions {
  query?: URLSearchParams;
  body?: unknown;
  /** Background refreshes do not show the progress bar. */
  quiet?: boolean;
  signal?: AbortSignal;
}

export async function api<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const url = opts.query && [...opts.query.keys()].length ? `${path}?${opts.query}` : path;
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (!opts.quiet) progress(1);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server did not answer. Is `threatdesk serve` running?', null);
  } finally {
    if (!opts.quiet) progress(-1);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; field?: string | null } } | null)?.error;
    const e = new ApiError(
      res.status,
      err?.code ?? 'http_' + res.status,
      err?.message ?? `${res.status} ${res.statusText}`,
      err?.field ?? null,
      data,
    );
    if (res.status === 401 && !path.endsWith('/auth/login')) onUnauthenticated();
    throw e;
  }
  return data as T;
}

/** A route that answers text (a rendered report's HTML); `body` is sent as it is. */
export async function apiText(method: string, path: string, opts: { query?: URLSearchParams; body?: string; signal?: AbortSignal; quiet?: boolean } = {}): Promise<string> {
  const url = opts.query && [...opts.query.keys()].length ? `${path}?${opts.query}` : path;
  const headers: Record<string, string> = { Accept: 'text/html, application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (!opts.quiet) progress(1);
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: opts.body, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server did not answer. Is `threatdesk serve` running?', null);
  } finally {
    if (!opts.quiet) progress(-1);
  }
  const text = await res.text();
  if (!res.ok) {
    let err: { code?: string; message?: string; field?: string | null } | undefined;
    try {
      err = (JSON.parse(text) as { error?: typeof err }).error;
    } catch {
      err = undefined;
    }
    if (res.status === 401) onUnauthenticated();
    throw new ApiError(res.status, err?.code ?? 'http_' + res.status, err?.message ?? `${res.status} ${res.statusText}`, err?.field ?? null);
  }
  return text;
}

/** "message (field: x)" for showing an error in the page. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.field ? `${e.message} (field: ${e.field})` : e.message;
  return e instanceof Error ? e.message : String(e);
}

// --- shapes the UI reads ----------------------------------------------------------------------

export interface Threat {
  id: number;
  project_id: number;
  name: string;
  score: number;
  severity: string;
  kind: string;
  source: string;
  rule_id: string | null;
  rule_group: string | null;
  entity: { type: string; value: string } | null;
  entity_group: string | null;
  host: string | null;
  tags: string[];
  group: string | null;
  state: string;
  outcome: string | null;
  owner: string | null;
  closed: boolean;
  count: number;
  created_at: string;
  last_seen: string;
  updated_at: string;
  closed_at: string | null;
  description?: string;
  evidence?: unknown;
  evidence_samples?: unknown[];
  check_by?: string | null;
}

export interface ThreatPage {
  items: Threat[];
  next_cursor: string | null;
  total: number;
}

export interface NamedCount {
  name: string;
  count: number;
}

export interface Overview {
  open_by_severity: Record<string, number>;
  total: number;
  bucket: string;
  series: string[];
  timeline: { start: string; counts: number[] }[];
  by_entity_group: NamedCount[];
  by_source: NamedCount[];
  by_host: NamedCount[];
  by_period: NamedCount[];
  threats: ThreatPage;
}

export interface User {
  id: number;
  org_id: number;
  email: string;
  display_name: string;
  role: string;
  time_zone: string;
  disabled: boolean;
  created_at: string;
}

export interface Project {
  id: number;
  org_id: number;
  name: string;
}

export interface Me {
  kind: 'user' | 'token';
  user?: User;
  org?: { id: number; name: string };
  projects: Project[];
  csrf_token?: string;
}

export interface Tag {
  id: number;
  kind: string;
  name: string;
  position: number;
}

export interface BulkResult {
  matched: number;
  changed: number;
  changed_ids: number[];
  failed: { id: number; error: { code: string; message: string; field: string | null } }[];
}

export interface TimelineEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  from: string | null;
  to: string | null;
}

export interface Note {
  id: number;
  at: string;
  author: string;
  text: string;
}

export interface ApiToken {
  id: number;
  project_id: number;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}
