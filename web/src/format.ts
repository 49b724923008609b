// Formatting for people: counts, times, severities, evidence. Pure functions, no DOM.

const nf = new Intl.NumberFormat('en-US');

/** 1234 → "1,234". */
export function formatCount(n: number): string {
  return nf.format(n);
}

/** 1234 → "1.2k", 1234567 → "1.2M": for chips and bars where space is short. */
export function formatCompact(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1000) return String(n);
  const [div, unit] = abs < 1e6 ? [1e3, 'k'] : abs < 1e9 ? [1e6, 'M'] : [1e9, 'G'];
  const v = n / div;
  return (Math.abs(v) < 10 ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v).toString()) + unit;
}

/** "3 min ago", "2 h ago", "5 d ago", or the date for older times; `now` in ms. */
export function formatAgo(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 30 * 86400) return `${Math.floor(s / 86400)} d ago`;
  return iso.slice(0, 10);
}

/** "2026-11-23 10:00:00 UTC": exact, for titles and the detail page. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

/** A <input type="datetime-local"> value (UTC) from RFC 3339 text, and back. */
export function toLocalInput(iso: string): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  return new Date(t).toISOString().slice(0, 16);
}
export function fromLocalInput(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return '';
  const t = Date.parse(value.length === 16 ? value + ':00Z' : value + 'Z');
  return Number.isNaN(t) ? '' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "CRITICAL" → "Critical". */
export function severityLabel(s: string): string {
  return s.charAt(0) + s.slice(1).toLowerCase();
}

/** Names of the overview's time periods. */
export function periodLabel(name: string): string {
  return (
    {
      last_24_hours: 'Last 24 hours',
      last_7_days: 'Last 7 days',
      last_30_days: 'Last 30 days',
      older: 'Older',
    }[name] ?? name
  );
}

/** The "changed" confirmation of a bulk action. */
export function bulkSummary(r: { matched: number; changed: number; failed: { id: number }[] }): string {
  const noun = (n: number) => (n === 1 ? 'threat' : 'threats');
  let s = `Changed ${formatCount(r.changed)} of ${formatCount(r.matched)} ${noun(r.matched)}`;
  const unchanged = r.matched - r.changed - r.failed.length;
  if (r.failed.length) s += `; ${formatCount(r.failed.length)} failed`;
  if (unchanged > 0) s += `; ${formatCount(unchanged)} already so`;
  return s + '.';
}

/** Evidence as indented JSON text (strings that hold JSON are shown as the JSON they hold). */
export function prettyEvidence(evidence: unknown): string {
  if (typeof evidence === 'string') {
    try {
      return JSON.stringify(JSON.parse(evidence), null, 2);
    } catch {
      return evidence;
    }
  }
  return JSON.stringify(evidence ?? {}, null, 2);
}

/**
 * Splits text into runs, marking case-insensitive matches of `term`, for highlighting search hits
 * without building HTML from strings.
 */
export function highlightRuns(text: string, term: string): { text: string; match: boolean }[] {
  if (!term) return [{ text, match: false }];
  const runs: { text: string; match: boolean }[] = [];
  const lower = text.toLowerCase();
  const needle = term.toLowerCase();
  let at = 0;
  for (;;) {
    const i = lower.indexOf(needle, at);
    if (i < 0) break;
    if (i > at) runs.push({ text: text.slice(at, i), match: false });
    runs.push({ text: text.slice(i, i + needle.length), match: true });
    at = i + needle.length;
  }
  if (at < text.length || runs.length === 0) runs.push({ text: text.slice(at), match: false });
  return runs;
}

/** Timeline actions in words. */
export function describeChange(e: { action: string; from: string | null; to: string | null }): string {
  const arrow = (a: string | null, b: string | null) => `${a || '(none)'} → ${b || '(none)'}`;
  switch (e.action) {
    case 'created':
      return 'created';
    case 'assigned_group':
      return `group ${arrow(e.from, e.to)}`;
    case 'assigned_owner':
      return `owner ${arrow(e.from, e.to)}`;
    case 'state':
      return `state ${arrow(e.from, e.to)}`;
    case 'closed':
      return `closed${e.to ? ` as ${e.to}` : ''}`;
    case 'reopened':
      return `reopened${e.to ? ` to ${e.to}` : ''}`;
    case 'note':
      return 'note added';
    case 'severity':
      return `severity ${arrow(e.from, e.to)}`;
    case 'score':
      return `score ${arrow(e.from, e.to)}`;
    case 'duplicate':
      return `seen again${e.to ? ` (count ${e.to})` : ''}`;
    default:
      return [e.action, e.from, e.to].filter(Boolean).join(' ');
  }
}

export interface EvidenceSection {
  title: string;
  rows: [string, string][];
  links?: string[];
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(text).filter(Boolean).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function rowsOf(pairs: [string, unknown][]): [string, string][] {
  return pairs.map(([k, v]): [string, string] => [k, text(v)]).filter(([, v]) => v !== '');
}

/**
 * What the engines put in a threat's evidence, as labelled sections: the Sigma rule
 * ({rule, event}), the intel indicator and its context ({indicator, field, matched, event}), the
 * advisory with its fixed versions ({advisory, fixed_versions, component, ...}). Unknown shapes
 * give no sections; the raw evidence is always shown as well.
 */
export function evidenceSections(evidence: unknown): EvidenceSection[] {
  if (!evidence || typeof evidence !== 'object' || Array.isArray(evidence)) return [];
  const e = evidence as Record<string, unknown>;
  const out: EvidenceSection[] = [];
  const rule = e.rule as Record<string, unknown> | undefined;
  if (rule && typeof rule === 'object') {
    out.push({ title: 'Rule', rows: rowsOf([['Title', rule.title], ['ID', rule.id], ['Level', rule.level], ['Techniques', rule.tags]]) });
  }
  const ind = e.indicator as Record<string, unknown> | undefined;
  if (ind && typeof ind === 'object') {
    const ctx = (ind.context ?? {}) as Record<string, unknown>;
    out.push({
      title: 'Indicator',
      rows: rowsOf([
        ['Value', ind.value],
        ['Type', ind.type],
        ['Matched field', e.field],
        ['Matched value', e.matched],
        ['Feeds', ind.feeds],
        ['Confidence', ind.confidence],
        ['First seen', ind.first_seen],
        ['Last seen', ind.last_seen],
        ['Valid until', ind.valid_until],
        ...Object.entries(typeof ctx === 'object' && ctx ? ctx : {}).map(([k, v]): [string, unknown] => [k.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()), v]),
      ]),
    });
  }
  if (typeof e.advisory === 'string') {
    const c = (e.component ?? {}) as Record<string, unknown>;
    const fixed = Array.isArray(e.fixed_versions) && e.fixed_versions.length ? text(e.fixed_versions) : 'no fixed version is known';
    const cvss = e.cvss as Record<string, unknown> | undefined;
    out.push({
      title: 'Advisory',
      rows: rowsOf([
        ['Advisory', e.advisory],
        ['Aliases', e.aliases],
        ['Summary', e.summary],
        ['Package', c.package ? `${c.package}@${c.version ?? ''}` : ''],
        ['Ecosystem', c.ecosystem],
        ['PURL', c.purl],
        ['Fixed versions', fixed],
        ['CVSS', cvss ? `${text(cvss.score)} ${text(cvss.vector)}`.trim() : ''],
        ['Database severity', e.database_severity],
        ['Asset criticality', e.asset_criticality],
        ['Related', e.related_advisories],
      ]),
      links: Array.isArray(e.references) ? (e.references as unknown[]).map(text).filter((u) => /^https?:\/\//.test(u)) : [],
    });
  }
  return out;
}

/** The matching event inside the evidence, when the engine kept one. */
export function evidenceEvent(evidence: unknown): unknown {
  if (evidence && typeof evidence === 'object' && !Array.isArray(evidence) && 'event' in evidence)
    return (evidence as Record<string, unknown>).event;
  return undefined;
}
