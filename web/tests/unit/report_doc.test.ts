import { describe, expect, it } from 'vitest';
import {
  addWidget,
  blankDoc,
  describePath,
  describeWidget,
  layout,
  lineColumn,
  locatePath,
  materialize,
  moveTo,
  moveWidget,
  normalizeChart,
  normalizeTable,
  overlaps,
  removeWidget,
  resizeWidget,
  updateWidget,
  widgetIndexOfPath,
  type Position,
  type ReportDoc,
} from '../../src/report_doc';

// The start of src/report/templates/weekly-soc-summary.json: four KPI tiles without a position,
// then positioned ones.
const weekly = (): ReportDoc => ({
  title: 'Weekly SOC summary',
  time_range: 'last_7_days',
  widgets: [
    { id: 'open', type: 'kpi', kpi: { metric: 'open' } },
    { id: 'new', type: 'kpi', kpi: { metric: 'new' } },
    { id: 'closed', type: 'kpi', kpi: { metric: 'closed' } },
    { id: 'fp-rate', type: 'kpi', kpi: { metric: 'false_positive_rate' } },
    { id: 'mtta', type: 'kpi', position: { x: 0, y: 1, w: 6, h: 1 }, kpi: { metric: 'mtta' } },
    { id: 'mttr', type: 'kpi', position: { x: 6, y: 1, w: 6, h: 1 }, kpi: { metric: 'mttr' } },
    { id: 'per-day', type: 'chart', position: { x: 0, y: 2, w: 12, h: 3 }, chart: { kind: 'stacked_bar', dimension: 'time', series: 'severity' } },
  ],
});

const noOverlaps = (ps: Position[]) => {
  for (let i = 0; i < ps.length; i += 1) for (let j = 0; j < i; j += 1) expect(overlaps(ps[i], ps[j]), `${i} and ${j}`).toBe(false);
};

describe('layout', () => {
  it('flows widgets without a position as the server does', () => {
    const ps = layout(weekly());
    expect(ps.slice(0, 4)).toEqual([
      { x: 0, y: 0, w: 3, h: 1 },
      { x: 3, y: 0, w: 3, h: 1 },
      { x: 6, y: 0, w: 3, h: 1 },
      { x: 9, y: 0, w: 3, h: 1 },
    ]);
    expect(ps[6]).toEqual({ x: 0, y: 2, w: 12, h: 3 });
  });

  it('flows around positioned widgets, charts half a row and tables a full one', () => {
    const doc: ReportDoc = {
      title: 't',
      time_range: 'today',
      grid: { columns: 12 },
      widgets: [
        { type: 'kpi', position: { x: 0, y: 0, w: 8, h: 1 }, kpi: { metric: 'open' } },
        { type: 'chart', chart: { kind: 'bar', dimension: 'severity' } },
        { type: 'table', table: { kind: 'top', dimension: 'rule' } },
      ],
    };
    expect(layout(doc)).toEqual([
      { x: 0, y: 0, w: 8, h: 1 },
      { x: 0, y: 1, w: 6, h: 3 },
      { x: 0, y: 4, w: 12, h: 3 },
    ]);
  });

  it('materialize writes every position and changes nothing else', () => {
    const doc = weekly();
    const m = materialize(doc);
    expect(m.widgets.every((w) => w.position)).toBe(true);
    expect(doc.widgets[0].position).toBeUndefined();
    expect({ ...m, widgets: m.widgets.map(({ position, ...rest }) => rest) }).toEqual({ ...doc, widgets: doc.widgets.map(({ position, ...rest }) => rest) });
  });
});

describe('adding and removing', () => {
  it('adds each palette kind at the first free cells with a unique id', () => {
    let doc = weekly();
    const added = addWidget(doc, 'pie');
    doc = added.doc;
    expect(added.index).toBe(7);
    expect(doc.widgets[7]).toMatchObject({ id: 'pie-1', type: 'chart', chart: { kind: 'pie' }, position: { x: 0, y: 5, w: 6, h: 3 } });
    doc = addWidget(doc, 'pie').doc;
    expect(doc.widgets[8]).toMatchObject({ id: 'pie-2', position: { x: 6, y: 5, w: 6, h: 3 } });
    for (const kind of ['kpi', 'bar', 'stacked_bar', 'line', 'top', 'threats'] as const) doc = addWidget(doc, kind).doc;
    expect(doc.widgets.map((w) => w.id).slice(9)).toEqual(['kpi-1', 'bar-1', 'stacked-bar-1', 'line-1', 'top-1', 'threats-1']);
    noOverlaps(doc.widgets.map((w) => w.position!));
  });

  it('removes one widget and keeps the others where they were', () => {
    const doc = removeWidget(weekly(), 1);
    expect(doc.widgets.map((w) => w.id)).toEqual(['open', 'closed', 'fp-rate', 'mtta', 'mttr', 'per-day']);
    expect(doc.widgets[1].position).toEqual({ x: 6, y: 0, w: 3, h: 1 });
  });
});

describe('moving', () => {
  it('swaps neighbours in a full row, left and right', () => {
    let r = moveWidget(weekly(), 0, 'right');
    expect(r.moved).toBe(true);
    expect(r.doc.widgets[0].position).toEqual({ x: 3, y: 0, w: 3, h: 1 });
    expect(r.doc.widgets[1].position).toEqual({ x: 0, y: 0, w: 3, h: 1 });
    r = moveWidget(r.doc, 0, 'left');
    expect(r.doc.widgets[0].position).toEqual({ x: 0, y: 0, w: 3, h: 1 });
  });

  it('stops at the edge of the grid', () => {
    expect(moveWidget(weekly(), 0, 'left').moved).toBe(false);
    expect(moveWidget(weekly(), 3, 'right').moved).toBe(false);
    expect(moveWidget(weekly(), 0, 'up').moved).toBe(false);
  });

  it('steps into free cells', () => {
    const doc: ReportDoc = { title: 't', time_range: 'today', widgets: [{ type: 'kpi', position: { x: 0, y: 0, w: 3, h: 1 }, kpi: { metric: 'open' } }] };
    const r = moveWidget(doc, 0, 'right');
    expect(r.doc.widgets[0].position).toEqual({ x: 1, y: 0, w: 3, h: 1 });
    expect(moveWidget(r.doc, 0, 'down').doc.widgets[0].position).toEqual({ x: 1, y: 1, w: 3, h: 1 });
  });

  it('moves down past a wide widget and back up, never overlapping', () => {
    let doc = weekly();
    let r = moveWidget(doc, 6, 'up'); // the chart under the MTTA/MTTR row: two in the way
    expect(r.moved).toBe(true);
    noOverlaps(r.doc.widgets.map((w) => w.position!));
    expect(r.doc.widgets[6].position!.y).toBeLessThan(r.doc.widgets[4].position!.y);
    doc = r.doc;
    r = moveWidget(doc, 6, 'down');
    noOverlaps(r.doc.widgets.map((w) => w.position!));
    // Twenty moves in every direction keep the grid valid.
    for (let i = 0; i < 20; i += 1)
      for (const dir of ['down', 'right', 'up', 'left'] as const) {
        r = moveWidget(r.doc, i % 7, dir);
        noOverlaps(r.doc.widgets.map((w) => w.position!));
        r.doc.widgets.forEach((w) => {
          expect(w.position!.x).toBeGreaterThanOrEqual(0);
          expect(w.position!.x + w.position!.w).toBeLessThanOrEqual(12);
          expect(w.position!.y).toBeGreaterThanOrEqual(0);
        });
      }
  });

  it('leaves the given document alone', () => {
    const doc = weekly();
    const before = JSON.stringify(doc);
    moveWidget(doc, 0, 'right');
    resizeWidget(doc, 0, 6, 2);
    expect(JSON.stringify(doc)).toBe(before);
  });

  it('drops a dragged widget and pushes what is there down', () => {
    const doc = moveTo(weekly(), 6, 0, 0);
    expect(doc.widgets[6].position).toEqual({ x: 0, y: 0, w: 12, h: 3 });
    noOverlaps(doc.widgets.map((w) => w.position!));
    expect(doc.widgets[0].position!.y).toBe(3);
    expect(moveTo(weekly(), 0, 40, -3).widgets[0].position).toMatchObject({ x: 9, y: 0 });
  });

  it('resizes within the grid, pushing neighbours down', () => {
    const doc = resizeWidget(weekly(), 3, 6, 2);
    expect(doc.widgets[3].position).toEqual({ x: 6, y: 0, w: 6, h: 2 });
    noOverlaps(doc.widgets.map((w) => w.position!));
    expect(resizeWidget(weekly(), 0, 99, 0).widgets[0].position).toMatchObject({ x: 0, w: 12, h: 1 });
  });
});

describe('widget configuration', () => {
  it('keeps charts to combinations the validator accepts', () => {
    expect(normalizeChart({ kind: 'pie', dimension: 'time', series: 'severity', metric: 'mttr' })).toEqual({ kind: 'pie', dimension: 'source' });
    expect(normalizeChart({ kind: 'stacked_bar', dimension: 'time' })).toEqual({ kind: 'stacked_bar', dimension: 'time', series: 'severity' });
    expect(normalizeChart({ kind: 'stacked_bar', dimension: 'severity' }).series).toBe('group');
    expect(normalizeChart({ kind: 'bar', dimension: 'group', series: 'severity', bucket: 'day' })).toEqual({ kind: 'bar', dimension: 'group' });
    expect(normalizeChart({ kind: 'line', dimension: 'time', population: 'open', series: 'time' })).toEqual({ kind: 'line', dimension: 'time', population: 'new' });
    expect(normalizeChart({ kind: 'line', dimension: 'rule', metric: 'mttr' })).toEqual({ kind: 'line', dimension: 'rule', metric: 'mttr' });
  });

  it('keeps tables to their kind', () => {
    expect(normalizeTable({ kind: 'threats', dimension: 'rule', columns: ['id', 'id', 'name'], limit: 900 })).toEqual({ kind: 'threats', columns: ['id', 'name'], limit: 500 });
    expect(normalizeTable({ kind: 'top', dimension: 'time', columns: ['id'], sort: 'score' })).toEqual({ kind: 'top', dimension: 'rule' });
  });

  it('updates one widget, dropping an empty title and filters', () => {
    const doc = updateWidget(weekly(), 1, { id: 'new', type: 'kpi', title: '  ', filters: {}, kpi: { metric: 'mtta' } });
    expect(doc.widgets[1]).toEqual({ id: 'new', type: 'kpi', kpi: { metric: 'mtta' } });
  });

  it('describes widgets', () => {
    expect(describeWidget(weekly().widgets[6])).toBe('Stacked bar chart · time by severity');
    expect(describeWidget({ type: 'table', table: { kind: 'threats', columns: ['id', 'name'] } })).toBe('Threat list · 2 columns');
    expect(describeWidget(blankDoc().widgets[0])).toBe('KPI tile · open');
  });
});

describe('validator paths', () => {
  it('finds the widget an error is about', () => {
    expect(widgetIndexOfPath('widgets[3].chart.dimension')).toBe(3);
    expect(widgetIndexOfPath('spec.widgets[12]')).toBe(12);
    expect(widgetIndexOfPath('title')).toBeNull();
    expect(widgetIndexOfPath(null)).toBeNull();
  });

  it('locates the value at a path in the text', () => {
    const text = JSON.stringify(weekly(), null, 2);
    const at = (path: string) => {
      const r = locatePath(text, path);
      return r ? text.slice(r.start, r.end) : null;
    };
    expect(at('title')).toBe('"Weekly SOC summary"');
    expect(at('widgets[6].chart.dimension')).toBe('"time"');
    expect(at('spec.widgets[4].position')).toBe('{\n        "x": 0,\n        "y": 1,\n        "w": 6,\n        "h": 1\n      }');
    expect(at('widgets[1]')?.startsWith('{')).toBe(true);
    expect(at('widgets[40]')).toBeNull();
    expect(at('nope')).toBeNull();
  });

  it('reads a syntax error\'s byte as a line and column', () => {
    const text = '{\n  "title": "x",\n  oops\n}';
    expect(lineColumn(text, text.indexOf('oops'))).toEqual({ line: 3, column: 3 });
    expect(describePath(text, `byte ${text.indexOf('oops') + 1}`)).toBe('line 3, column 3');
    expect(describePath(text, 'widgets[0].kpi')).toBe('widgets[0].kpi');
    expect(describePath(text, '')).toBe('(document)');
  });

  it('locates a syntax error by its UTF-8 byte', () => {
    const text = '{"title": "Überblick", x}';
    // nlohmann::json reports the byte of the character it stopped at, counting from 1.
    const byte = new TextEncoder().encode(text.slice(0, text.indexOf('x'))).length + 1;
    const r = locatePath(text, `byte ${byte}`)!;
    expect(text.slice(r.start, r.end)).toBe('x');
  });
});
