import { describe, expect, it } from 'vitest';
import { stack } from '../../src/chart';
import {
  bulkSummary,
  evidenceEvent,
  evidenceSections,
  describeChange,
  formatAgo,
  formatCompact,
  formatCount,
  formatTime,
  fromLocalInput,
  highlightRuns,
  periodLabel,
  prettyEvidence,
  severityLabel,
  toLocalInput,
} from '../../src/format';

describe('numbers', () => {
  it('groups thousands', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(1234567)).toBe('1,234,567');
  });
  it('shortens large counts', () => {
    expect(formatCompact(999)).toBe('999');
    expect(formatCompact(1000)).toBe('1k');
    expect(formatCompact(1250)).toBe('1.3k');
    expect(formatCompact(45_600)).toBe('46k');
    expect(formatCompact(1_000_000)).toBe('1M');
    expect(formatCompact(2_500_000_000)).toBe('2.5G');
  });
});

describe('times', () => {
  const now = Date.parse('2026-11-23T12:00:00Z');
  it('says how long ago', () => {
    expect(formatAgo('2026-11-23T11:59:30Z', now)).toBe('30 s ago');
    expect(formatAgo('2026-11-23T11:00:00Z', now)).toBe('1 h ago');
    expect(formatAgo('2026-11-20T12:00:00Z', now)).toBe('3 d ago');
    expect(formatAgo('2026-01-01T00:00:00Z', now)).toBe('2026-01-01');
    expect(formatAgo('2026-11-23T12:00:05Z', now)).toBe('just now');
    expect(formatAgo(null, now)).toBe('—');
    expect(formatAgo('garbage', now)).toBe('garbage');
  });
  it('formats exact times in UTC', () => {
    expect(formatTime('2026-11-23T10:00:00Z')).toBe('2026-11-23 10:00:00 UTC');
    expect(formatTime(null)).toBe('—');
  });
  it('converts datetime-local input values (UTC) both ways', () => {
    expect(toLocalInput('2026-11-23T10:05:00Z')).toBe('2026-11-23T10:05');
    expect(fromLocalInput('2026-11-23T10:05')).toBe('2026-11-23T10:05:00Z');
    expect(toLocalInput('')).toBe('');
    expect(fromLocalInput('nonsense')).toBe('');
  });
});

describe('words', () => {
  it('labels severities and periods', () => {
    expect(severityLabel('CRITICAL')).toBe('Critical');
    expect(periodLabel('last_7_days')).toBe('Last 7 days');
    expect(periodLabel('other')).toBe('other');
  });
  it('confirms how many changed', () => {
    expect(bulkSummary({ matched: 2, changed: 2, failed: [] })).toBe('Changed 2 of 2 threats.');
    expect(bulkSummary({ matched: 1, changed: 1, failed: [] })).toBe('Changed 1 of 1 threat.');
    expect(bulkSummary({ matched: 12, changed: 9, failed: [{ id: 7 }] })).toBe('Changed 9 of 12 threats; 1 failed; 2 already so.');
  });
  it('describes timeline entries', () => {
    expect(describeChange({ action: 'state', from: 'New', to: 'In Progress' })).toBe('state New → In Progress');
    expect(describeChange({ action: 'assigned_owner', from: null, to: 'a@b.test' })).toBe('owner (none) → a@b.test');
    expect(describeChange({ action: 'closed', from: 'New', to: 'Benign' })).toBe('closed as Benign');
    expect(describeChange({ action: 'future_thing', from: 'a', to: null })).toBe('future_thing a');
  });
});

describe('evidence', () => {
  it('pretty-prints objects and JSON held in strings, and leaves other text alone', () => {
    expect(prettyEvidence({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(prettyEvidence('{"b":[1]}')).toBe('{\n  "b": [\n    1\n  ]\n}');
    expect(prettyEvidence('plain text')).toBe('plain text');
    expect(prettyEvidence(undefined)).toBe('{}');
  });
  it('marks every case-insensitive match', () => {
    expect(highlightRuns('Mimikatz ran mimikatz', 'MIMI')).toEqual([
      { text: 'Mimi', match: true },
      { text: 'katz ran ', match: false },
      { text: 'mimi', match: true },
      { text: 'katz', match: false },
    ]);
    expect(highlightRuns('abc', '')).toEqual([{ text: 'abc', match: false }]);
    expect(highlightRuns('abc', 'x')).toEqual([{ text: 'abc', match: false }]);
    expect(highlightRuns('', 'x')).toEqual([{ text: '', match: false }]);
  });
});

describe('timeline stacking', () => {
  it('adds each series on top of the ones before it', () => {
    expect(stack([[1, 2], [3, 0], [0, 5]])).toEqual([[1, 2], [4, 2], [4, 7]]);
    expect(stack([])).toEqual([]);
  });
});

describe('evidence sections', () => {
  it('reads a Sigma match', () => {
    const s = evidenceSections({ rule: { id: 'r1', title: 'Mimikatz', level: 'high', tags: ['T1003'] }, event: { a: 1 } });
    expect(s).toEqual([{ title: 'Rule', rows: [['Title', 'Mimikatz'], ['ID', 'r1'], ['Level', 'high'], ['Techniques', 'T1003']] }]);
    expect(evidenceEvent({ rule: {}, event: { a: 1 } })).toEqual({ a: 1 });
  });
  it('reads an intel match with the indicator context', () => {
    const s = evidenceSections({
      indicator: { value: '203.0.113.9', type: 'ipv4', feeds: ['Feodo', 'Local'], confidence: 80, context: { malware: 'Emotet', threat_actor: 'TA542' } },
      field: 'dst_ip',
      matched: '203.0.113.9',
    });
    expect(s[0].title).toBe('Indicator');
    expect(s[0].rows).toContainEqual(['Feeds', 'Feodo, Local']);
    expect(s[0].rows).toContainEqual(['Matched field', 'dst_ip']);
    expect(s[0].rows).toContainEqual(['Malware', 'Emotet']);
    expect(s[0].rows).toContainEqual(['Threat actor', 'TA542']);
  });
  it('reads a vulnerability finding with its fixed versions and reference links', () => {
    const s = evidenceSections({
      advisory: 'GHSA-xxxx',
      aliases: ['CVE-2021-44228'],
      fixed_versions: ['2.15.0', '2.12.2'],
      component: { package: 'log4j-core', version: '2.14.1', ecosystem: 'Maven' },
      references: ['https://example.org/a', 'javascript:alert(1)'],
      cvss: { score: 10, vector: 'CVSS:3.1/AV:N' },
    });
    expect(s[0].rows).toContainEqual(['Fixed versions', '2.15.0, 2.12.2']);
    expect(s[0].rows).toContainEqual(['Package', 'log4j-core@2.14.1']);
    expect(s[0].rows).toContainEqual(['CVSS', '10 CVSS:3.1/AV:N']);
    expect(s[0].links).toEqual(['https://example.org/a']);
    expect(evidenceSections({ advisory: 'X', fixed_versions: [] })[0].rows).toContainEqual(['Fixed versions', 'no fixed version is known']);
  });
  it('gives nothing for shapes it does not know', () => {
    expect(evidenceSections({ process: 'x' })).toEqual([]);
    expect(evidenceSections('text')).toEqual([]);
    expect(evidenceSections(null)).toEqual([]);
    expect(evidenceEvent({ process: 'x' })).toBeUndefined();
  });
});
