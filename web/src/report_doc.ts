// The report document as the builder edits it (docs/reports.md has the full reference): the grid
// layout (the server's flow for widgets without a position, reproduced here), the widget palette,
// moving, resizing and removing widgets, keeping a chart's members to combinations the server's
// validator accepts, and reading the validator's JSON paths back. Pure functions over plain JSON
// values: every change returns a new document and leaves the given one alone.

export interface Position {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type WidgetType = 'kpi' | 'chart' | 'table';

export interface Widget {
  id?: string;
  type: WidgetType;
  title?: string;
  position?: Position;
  filters?: Record<string, unknown>;
  kpi?: { metric: string; compare?: boolean };
  chart?: { kind: string; dimension: string; series?: string; population?: string; metric?: string; bucket?: string; limit?: number };
  table?: { kind: string; dimension?: string; metric?: string; population?: string; columns?: string[]; sort?: string; limit?: number };
  [member: string]: unknown;
}

export interface ReportDoc {
  title: string;
  description?: string;
  time_range: string | { from: string; to: string };
  time_zone?: string;
  filters?: Record<string, unknown>;
  page?: { size?: string; orientation?: string };
  grid?: { columns?: number };
  widgets: Widget[];
  [member: string]: unknown;
}

// The validator's names (src/report/spec.cpp), for the builder's choices.
export const KPI_METRICS = ['open', 'new', 'closed', 'mtta', 'mttr', 'false_positive_rate'];
export const CHART_KINDS = ['bar', 'stacked_bar', 'line', 'pie'];
export const DIMENSIONS = ['group', 'severity', 'source', 'state', 'outcome', 'owner', 'host', 'entity_group', 'rule', 'kind', 'time'];
export const POPULATIONS = ['active', 'new', 'closed', 'open'];
export const METRICS = ['count', 'mtta', 'mttr', 'false_positive_rate'];
export const BUCKETS = ['auto', 'hour', 'day', 'week', 'month'];
export const THREAT_COLUMNS = ['id', 'name', 'severity', 'score', 'state', 'group', 'owner', 'outcome', 'source', 'rule', 'entity', 'host', 'entity_group', 'kind', 'count', 'created', 'last_seen', 'closed_at'];
export const THREAT_SORTS = ['score', 'severity', 'last_seen', 'created'];
export const TIME_RANGES = ['today', 'yesterday', 'this_week', 'last_week', 'this_month', 'last_month', 'this_quarter', 'this_year', 'last_year', 'last_24_hours', 'last_7_days', 'last_30_days', 'last_90_days'];
export const MAX_WIDGETS = 64;

export type PaletteKind = 'kpi' | 'bar' | 'stacked_bar' | 'line' | 'pie' | 'top' | 'threats';

/** What the builder's palette offers, each with the widget it adds. */
export const PALETTE: { kind: PaletteKind; label: string; make: () => Widget }[] = [
  { kind: 'kpi', label: 'KPI tile', make: () => ({ type: 'kpi', kpi: { metric: 'open' } }) },
  { kind: 'bar', label: 'Bar chart', make: () => ({ type: 'chart', chart: { kind: 'bar', dimension: 'severity' } }) },
  { kind: 'stacked_bar', label: 'Stacked bar chart', make: () => ({ type: 'chart', chart: { kind: 'stacked_bar', dimension: 'time', series: 'severity', population: 'new' } }) },
  { kind: 'line', label: 'Line chart', make: () => ({ type: 'chart', chart: { kind: 'line', dimension: 'time', population: 'new' } }) },
  { kind: 'pie', label: 'Pie chart', make: () => ({ type: 'chart', chart: { kind: 'pie', dimension: 'source' } }) },
  { kind: 'top', label: 'Top-N table', make: () => ({ type: 'table', table: { kind: 'top', dimension: 'rule', limit: 10 } }) },
  { kind: 'threats', label: 'Threat list', make: () => ({ type: 'table', table: { kind: 'threats', columns: ['id', 'name', 'severity', 'state', 'owner'], sort: 'score', limit: 20 } }) },
];

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export function columnsOf(doc: ReportDoc): number {
  const c = doc.grid?.columns;
  return typeof c === 'number' && Number.isInteger(c) && c >= 1 && c <= 24 ? c : 12;
}

/** The size a widget without a position gets: KPI tiles a quarter row, charts half, tables all. */
export function defaultSize(type: WidgetType, columns: number): { w: number; h: number } {
  if (type === 'kpi') return { w: Math.max(1, Math.floor(columns / 4)), h: 1 };
  if (type === 'chart') return { w: Math.max(1, Math.floor(columns / 2)), h: 3 };
  return { w: columns, h: 3 };
}

export function overlaps(a: Position, b: Position): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function isPosition(p: unknown): p is Position {
  if (!p || typeof p !== 'object') return false;
  const q = p as Record<string, unknown>;
  return ['x', 'y', 'w', 'h'].every((k) => q[k] === undefined || (typeof q[k] === 'number' && Number.isInteger(q[k])));
}

/** The first free cells, row by row from (x, y), for a w×h widget. */
export function firstFree(taken: Position[], w: number, h: number, columns: number, from: { x: number; y: number } = { x: 0, y: 0 }): Position {
  const width = Math.min(Math.max(1, w), columns);
  for (let y = from.y; y < 2000; y += 1) {
    for (let x = y === from.y ? from.x : 0; x + width <= columns; x += 1) {
      const p = { x, y, w: width, h };
      if (!taken.some((t) => overlaps(p, t))) return p;
    }
  }
  return { x: 0, y: 2000, w: width, h };
}

/**
 * Where every widget goes, as the server lays them out (src/report/spec.cpp, layout()): widgets
 * with a position keep it; the others flow, in document order, into the first free cells after
 * the previous flowed one.
 */
export function layout(doc: ReportDoc): Position[] {
  const columns = columnsOf(doc);
  const widgets = Array.isArray(doc.widgets) ? doc.widgets : [];
  const out: (Position | null)[] = widgets.map((w) => {
    if (!w || !isPosition(w.position)) return null;
    const p = w.position;
    return { x: p.x ?? 0, y: p.y ?? 0, w: p.w ?? Math.min(3, columns), h: p.h ?? 1 };
  });
  const taken = out.filter((p): p is Position => p !== null);
  let cursor = { x: 0, y: 0 };
  widgets.forEach((w, i) => {
    if (out[i]) return;
    const size = defaultSize(w?.type ?? 'kpi', columns);
    const p = firstFree(taken, size.w, size.h, columns, cursor);
    out[i] = p;
    taken.push(p);
    cursor = { x: p.x + p.w, y: p.y };
  });
  return out as Position[];
}

/** The document with every widget's position written out (what the builder edits). */
export function materialize(doc: ReportDoc): ReportDoc {
  const positions = layout(doc);
  const next = clone(doc);
  next.widgets.forEach((w, i) => (w.position = positions[i]));
  return next;
}

/** Rows the layout uses (the height of the builder's grid). */
export function rowsUsed(positions: Position[]): number {
  return positions.reduce((n, p) => Math.max(n, p.y + p.h), 0);
}

function uniqueId(doc: ReportDoc, base: string): string {
  const ids = new Set(doc.widgets.map((w, i) => w.id ?? `w${i + 1}`));
  for (let n = 1; ; n += 1) {
    const id = `${base}-${n}`;
    if (!ids.has(id)) return id;
  }
}

/** Adds a widget of the palette kind at the first free cells; returns the new document and its index. */
export function addWidget(doc: ReportDoc, kind: PaletteKind): { doc: ReportDoc; index: number } {
  const entry = PALETTE.find((p) => p.kind === kind);
  if (!entry) throw new Error(`unknown widget kind ${kind}`);
  const next = materialize(doc);
  if (next.widgets.length >= MAX_WIDGETS) throw new Error(`a report has at most ${MAX_WIDGETS} widgets`);
  const columns = columnsOf(next);
  const w = entry.make();
  w.id = uniqueId(next, kind.replace('_', '-'));
  const size = defaultSize(w.type, columns);
  w.position = firstFree(next.widgets.map((x) => x.position!), size.w, size.h, columns);
  next.widgets.push(w);
  return { doc: next, index: next.widgets.length - 1 };
}

export function removeWidget(doc: ReportDoc, index: number): ReportDoc {
  const next = materialize(doc);
  next.widgets.splice(index, 1);
  return next;
}

/**
 * Pushes every widget that overlaps `fixed` (and then whatever those land on) down below it.
 * Widgets only ever move down, so this ends.
 */
function pushDown(positions: Position[], fixed: number): void {
  const queue = [fixed];
  while (queue.length) {
    const m = queue.shift()!;
    positions.forEach((p, j) => {
      if (j === m || j === fixed || !overlaps(p, positions[m])) return;
      p.y = positions[m].y + positions[m].h;
      queue.push(j);
    });
  }
}

const free = (positions: Position[], p: Position, except: number[]) => positions.every((q, j) => except.includes(j) || !overlaps(p, q));

export type Direction = 'up' | 'down' | 'left' | 'right';

/**
 * Moves a widget one cell. Into free cells it steps; into one other widget it swaps places with
 * it (each keeps its row, or column); else it jumps past what is in the way when there is room.
 * Up and down always succeed (widgets in the way are pushed down); left and right stop at the
 * grid's edge or when a row is full (moved false).
 */
export function moveWidget(doc: ReportDoc, index: number, dir: Direction): { doc: ReportDoc; moved: boolean } {
  const next = materialize(doc);
  const columns = columnsOf(next);
  const ps = next.widgets.map((w) => w.position!);
  const a = ps[index];
  if (!a) return { doc, moved: false };
  const dx = dir === 'left' ? -1 : dir === 'right' ? 1 : 0;
  const dy = dir === 'up' ? -1 : dir === 'down' ? 1 : 0;
  const step = { ...a, x: a.x + dx, y: a.y + dy };
  if (step.x < 0 || step.x + step.w > columns || step.y < 0) return { doc, moved: false };
  const colliders = ps.map((p, j) => (j !== index && overlaps(step, p) ? j : -1)).filter((j) => j >= 0);
  const apply = (p: Position) => {
    Object.assign(a, p);
    return { doc: next, moved: true };
  };
  if (!colliders.length) return apply(step);
  const horizontal = dx !== 0;
  if (colliders.length === 1) {
    // Swap along the axis of the move inside the span the two cover together.
    const c = ps[colliders[0]];
    let a2: Position, c2: Position;
    if (horizontal) {
      const lo = Math.min(a.x, c.x);
      const hi = Math.max(a.x + a.w, c.x + c.w);
      a2 = { ...a, x: dx > 0 ? hi - a.w : lo };
      c2 = { ...c, x: dx > 0 ? lo : hi - c.w };
    } else {
      const lo = Math.min(a.y, c.y);
      const hi = Math.max(a.y + a.h, c.y + c.h);
      a2 = { ...a, y: dy > 0 ? hi - a.h : lo };
      c2 = { ...c, y: dy > 0 ? lo : hi - c.h };
    }
    const others = ps.filter((_, j) => j !== index && j !== colliders[0]);
    if (!overlaps(a2, c2) && others.every((o) => !overlaps(o, a2) && !overlaps(o, c2))) {
      Object.assign(c, c2);
      return apply(a2);
    }
  }
  // Jump past everything in the way.
  const cs = colliders.map((j) => ps[j]);
  const jump = { ...a };
  if (dir === 'right') jump.x = Math.max(...cs.map((c) => c.x + c.w));
  if (dir === 'left') jump.x = Math.min(...cs.map((c) => c.x)) - a.w;
  if (dir === 'down') jump.y = Math.max(...cs.map((c) => c.y + c.h));
  if (dir === 'up') jump.y = Math.min(...cs.map((c) => c.y)) - a.h;
  const inside = jump.x >= 0 && jump.x + jump.w <= columns && jump.y >= 0;
  if (inside && free(ps, jump, [index])) return apply(jump);
  if (horizontal) return { doc, moved: false };
  // Up or down with no room: take the place and push what is there down.
  Object.assign(a, dir === 'down' ? jump : step);
  pushDown(ps, index);
  return { doc: next, moved: true };
}

/** Puts a widget at (x, y) (dragging); widgets in the way are pushed down. */
export function moveTo(doc: ReportDoc, index: number, x: number, y: number): ReportDoc {
  const next = materialize(doc);
  const columns = columnsOf(next);
  const ps = next.widgets.map((w) => w.position!);
  const a = ps[index];
  a.x = Math.max(0, Math.min(columns - a.w, Math.round(x)));
  a.y = Math.max(0, Math.round(y));
  pushDown(ps, index);
  return next;
}

/** Changes a widget's size (clamped to the grid); widgets in the way are pushed down. */
export function resizeWidget(doc: ReportDoc, index: number, w: number, h: number): ReportDoc {
  const next = materialize(doc);
  const columns = columnsOf(next);
  const ps = next.widgets.map((x) => x.position!);
  const a = ps[index];
  a.w = Math.max(1, Math.min(columns, Math.round(w) || 1));
  a.h = Math.max(1, Math.min(20, Math.round(h) || 1));
  if (a.x + a.w > columns) a.x = columns - a.w;
  pushDown(ps, index);
  return next;
}

/**
 * Keeps a chart to what the validator accepts after one of its members changed: a stacked bar
 * has a series, a pie has none and no time, averages only on bar and line charts without series,
 * open threats have no time buckets, a bucket only on time.
 */
export function normalizeChart(chart: NonNullable<Widget['chart']>): NonNullable<Widget['chart']> {
  const c = { ...chart };
  if (c.kind === 'pie') {
    delete c.series;
    if (c.dimension === 'time') c.dimension = 'source';
  }
  if (c.series === 'time' || (c.series && c.series === c.dimension)) delete c.series;
  if (c.kind === 'stacked_bar' && !c.series) c.series = c.dimension === 'severity' ? 'group' : 'severity';
  if (c.kind === 'bar' && c.series) delete c.series;
  if (c.metric && c.metric !== 'count' && (c.kind === 'pie' || c.series)) delete c.metric;
  if (c.dimension === 'time' && c.population === 'open') c.population = 'new';
  if (c.dimension !== 'time') delete c.bucket;
  return c;
}

/** A top table ranks values (no time); a threat list has columns. Members of the other kind go. */
export function normalizeTable(table: NonNullable<Widget['table']>): NonNullable<Widget['table']> {
  if (table.kind === 'threats') {
    const t: NonNullable<Widget['table']> = { kind: 'threats', columns: table.columns?.length ? [...new Set(table.columns)] : ['id', 'name', 'severity'] };
    if (table.sort) t.sort = table.sort;
    if (table.limit !== undefined) t.limit = Math.max(1, Math.min(500, table.limit));
    return t;
  }
  const t: NonNullable<Widget['table']> = { kind: 'top', dimension: table.dimension && table.dimension !== 'time' ? table.dimension : 'rule' };
  if (table.metric) t.metric = table.metric;
  if (table.population) t.population = table.population;
  if (table.limit !== undefined) t.limit = Math.max(1, Math.min(100, table.limit));
  return t;
}

/** Replaces widget `index` with `widget`, normalised. */
export function updateWidget(doc: ReportDoc, index: number, widget: Widget): ReportDoc {
  const next = clone(doc);
  const w = clone(widget);
  if (w.chart) w.chart = normalizeChart(w.chart);
  if (w.table) w.table = normalizeTable(w.table);
  if (w.title !== undefined && !w.title.trim()) delete w.title;
  if (w.filters && !Object.keys(w.filters).length) delete w.filters;
  next.widgets[index] = w;
  return next;
}

/** The palette kind of a widget (for its label). */
export function widgetKind(w: Widget): PaletteKind {
  if (w.type === 'kpi') return 'kpi';
  if (w.type === 'table') return w.table?.kind === 'threats' ? 'threats' : 'top';
  const k = w.chart?.kind;
  return k === 'stacked_bar' || k === 'line' || k === 'pie' ? k : 'bar';
}

const words = (s: string | undefined) => (s ?? '').replace(/_/g, ' ');

/** A short description of what a widget shows ("Pie chart · source"). */
export function describeWidget(w: Widget): string {
  const label = PALETTE.find((p) => p.kind === widgetKind(w))?.label ?? w.type;
  if (w.type === 'kpi') return `${label} · ${words(w.kpi?.metric)}`;
  if (w.type === 'chart') {
    const c = w.chart;
    return `${label} · ${words(c?.dimension)}${c?.series ? ` by ${words(c.series)}` : ''}${c?.metric && c.metric !== 'count' ? ` · ${words(c.metric)}` : ''}`;
  }
  if (w.table?.kind === 'threats') return `${label} · ${w.table.columns?.length ?? 0} columns`;
  return `${label} · ${words(w.table?.dimension)}`;
}

/** The title a widget shows: its own, or what it shows. */
export function widgetLabel(w: Widget): string {
  return w.title?.trim() || describeWidget(w);
}

/** "spec.widgets[3].chart.dimension" → 3 (the widget an error is about), else null. */
export function widgetIndexOfPath(path: string | null | undefined): number | null {
  const m = /^(?:spec\.)?widgets\[(\d+)\]/.exec(path ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * The range of the text a validator path points at ("widgets[2].chart.dimension": that value;
 * "byte 120": that character), so the JSON editor can select it. Null when not found.
 */
export function locatePath(text: string, path: string): { start: number; end: number } | null {
  const byte = /^byte (\d+)$/.exec(path);
  if (byte) {
    // The server counts UTF-8 bytes from 1 (nlohmann::json: the byte after the last one read).
    const bytes = new TextEncoder().encode(text);
    const n = Math.max(0, Math.min(bytes.length, Number(byte[1]) - 1));
    const start = new TextDecoder().decode(bytes.slice(0, n)).length;
    return { start, end: Math.min(text.length, start + 1) };
  }
  const steps: (string | number)[] = [];
  for (const m of path.replace(/^spec\.?/, '').matchAll(/([^.[\]]+)|\[(\d+)\]/g)) steps.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i += 1;
  };
  const skipString = () => {
    i += 1;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i += 1;
  };
  const skipValue = (): void => {
    ws();
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      while (i < text.length) {
        const d = text[i];
        if (d === '"') {
          skipString();
          continue;
        }
        if (d === '{' || d === '[') depth += 1;
        if (d === '}' || d === ']') depth -= 1;
        i += 1;
        if (depth === 0) return;
      }
      return;
    }
    while (i < text.length && !/[,}\]\s]/.test(text[i])) i += 1;
  };
  try {
    for (const step of steps) {
      ws();
      if (typeof step === 'number') {
        if (text[i] !== '[') return null;
        i += 1;
        for (let k = 0; k < step; k += 1) {
          skipValue();
          ws();
          if (text[i] !== ',') return null;
          i += 1;
        }
      } else {
        if (text[i] !== '{') return null;
        i += 1;
        for (;;) {
          ws();
          if (text[i] !== '"') return null;
          const keyStart = i;
          skipString();
          const key = JSON.parse(text.slice(keyStart, i)) as string;
          ws();
          if (text[i] !== ':') return null;
          i += 1;
          if (key === step) break;
          skipValue();
          ws();
          if (text[i] !== ',') return null;
          i += 1;
        }
      }
    }
    ws();
    const start = i;
    skipValue();
    return i > start ? { start, end: i } : null;
  } catch {
    return null;
  }
}

/** Line and column (from 1) of a character offset in the text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset)).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** How an error's path reads: "byte 57" of a syntax error as "line 3, column 5". */
export function describePath(text: string, path: string): string {
  if (!path) return '(document)';
  if (!/^byte \d+$/.test(path)) return path;
  const at = locatePath(text, path);
  if (!at) return path;
  const { line, column } = lineColumn(text, at.start);
  return `line ${line}, column ${column}`;
}

/** The document as the JSON editor shows it. */
export function formatDoc(doc: ReportDoc): string {
  return JSON.stringify(doc, null, 2);
}

/** A new, empty report: one KPI tile (the validator wants at least one widget). */
export function blankDoc(): ReportDoc {
  return { title: 'New report', time_range: 'last_7_days', widgets: [{ id: 'kpi-1', type: 'kpi', position: { x: 0, y: 0, w: 3, h: 1 }, kpi: { metric: 'open' } }] };
}
