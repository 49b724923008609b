import { describe, expect, it } from 'vitest';
import {
  activePills,
  apiParams,
  bulkFilter,
  clearFilters,
  emptyFilters,
  filtersToSearch,
  isFiltered,
  parseFilters,
  periodRange,
  removePill,
  toggle,
  zoomRange,
} from '../../src/filters';

describe('URL <-> filter state', () => {
  it('reads every filter from the URL', () => {
    const f = parseFilters(
      '?project=Payments&group=L1+Support&group=&state=New&severity=high,CRITICAL&source=API&owner=a%40b.test' +
        '&kind=signal&entity=host:WS-1&host=WS-1&entity_group=Servers&text=mimi&open=true&from=2026-11-01&to=2026-11-02' +
        '&sort=score&order=asc&split=group&limit=100',
    );
    expect(f).toEqual({
      project: 'Payments',
      group: ['L1 Support', ''],
      state: ['New'],
      severity: ['HIGH', 'CRITICAL'],
      source: ['API'],
      owner: ['a@b.test'],
      kind: ['SIGNAL'],
      entity: 'host:WS-1',
      host: 'WS-1',
      entity_group: 'Servers',
      text: 'mimi',
      open: 'true',
      from: '2026-11-01',
      to: '2026-11-02',
      sort: 'score',
      order: 'asc',
      split: 'group',
      limit: 100,
    });
  });

  it('drops values it does not know instead of sending them on', () => {
    const f = parseFilters('severity=URGENT,low&kind=BOGUS&open=maybe&sort=name&limit=7&split=x');
    expect(f.severity).toEqual(['LOW']);
    expect(f.kind).toEqual([]);
    expect(f.open).toBe('');
    expect(f.sort).toBe('last_seen');
    expect(f.limit).toBe(50);
    expect(f.split).toBe('severity');
  });

  it('accepts q as the text filter', () => {
    expect(parseFilters('q=scanner').text).toBe('scanner');
  });

  it('round-trips through the URL', () => {
    const f = { ...emptyFilters(), group: ['', 'SOC'], severity: ['HIGH' as const], text: 'a&b=c', open: 'false' as const, sort: 'score' as const };
    expect(parseFilters(filtersToSearch(f))).toEqual(f);
  });

  it('leaves defaults out of the URL', () => {
    expect(filtersToSearch(emptyFilters())).toBe('');
    expect(filtersToSearch({ ...emptyFilters(), severity: ['HIGH', 'CRITICAL'] })).toBe('severity=HIGH%2CCRITICAL');
  });

  it('always sends sort, order and limit to the API, split only to the overview', () => {
    const f = { ...emptyFilters(), project: 'Corporate IT', state: ['New'] };
    expect(apiParams(f).toString()).toBe('project=Corporate+IT&state=New&sort=last_seen&order=desc&limit=50');
    expect(apiParams(f, { overview: true }).get('split')).toBe('severity');
    expect(apiParams(f, { cursor: 'abc' }).get('cursor')).toBe('abc');
  });

  it('spells the bulk filter as the API JSON', () => {
    const f = { ...emptyFilters(), project: 'P', severity: ['LOW' as const, 'INFO' as const], state: ['New'], text: 'scanner', open: 'true' as const, sort: 'score' as const };
    expect(bulkFilter(f)).toEqual({ state: ['New'], severity: ['LOW', 'INFO'], text: 'scanner', open: true });
    expect(bulkFilter(emptyFilters())).toEqual({});
  });
});

describe('filter editing', () => {
  it('toggles a value', () => {
    expect(toggle(['HIGH'], 'LOW')).toEqual(['HIGH', 'LOW']);
    expect(toggle(['HIGH', 'LOW'], 'HIGH')).toEqual(['LOW']);
  });

  it('knows when anything narrows the set', () => {
    expect(isFiltered(emptyFilters())).toBe(false);
    expect(isFiltered({ ...emptyFilters(), sort: 'score', limit: 200 })).toBe(false);
    expect(isFiltered({ ...emptyFilters(), group: [''] })).toBe(true);
    expect(isFiltered({ ...emptyFilters(), open: 'true' })).toBe(true);
  });

  it('clears filters but keeps project, sort and page size', () => {
    const f = { ...emptyFilters(), project: 'P', host: 'x', sort: 'score' as const, limit: 200 };
    expect(clearFilters(f)).toEqual({ ...emptyFilters(), project: 'P', sort: 'score', limit: 200 });
  });

  it('shows active filters as pills and removes one at a time', () => {
    const f = { ...emptyFilters(), group: ['', 'SOC'], host: 'WS-1', open: 'true' as const };
    const pills = activePills(f);
    expect(pills.map((p) => p.label)).toEqual(['Group: (none)', 'Group: SOC', 'Host: WS-1', 'Open only']);
    expect(removePill(f, 'group', '').group).toEqual(['SOC']);
    expect(removePill(f, 'host', 'WS-1').host).toBe('');
    expect(removePill(f, 'open', 'true').open).toBe('');
  });
});

describe('time ranges', () => {
  const now = Date.parse('2026-11-23T12:00:00Z');
  it('turns a period bar into from/to', () => {
    expect(periodRange('last_24_hours', now)).toEqual({ from: '2026-11-22T12:00:00Z', to: '' });
    expect(periodRange('last_7_days', now)).toEqual({ from: '2026-11-16T12:00:00Z', to: '' });
    expect(periodRange('older', now)).toEqual({ from: '', to: '2026-10-24T12:00:00Z' });
    expect(periodRange('someday', now)).toBeNull();
  });

  it('rounds a dragged range outward to whole minutes, in either direction', () => {
    const a = Date.parse('2026-11-20T10:00:30Z') / 1000;
    const b = Date.parse('2026-11-21T09:59:10Z') / 1000;
    expect(zoomRange(b, a)).toEqual({ from: '2026-11-20T10:00:00Z', to: '2026-11-21T10:00:00Z' });
    expect(zoomRange(a, a)).toEqual({ from: '2026-11-20T10:00:00Z', to: '2026-11-20T10:01:00Z' });
  });
});
