// One threat: every field, the evidence (pretty-printed and searchable, with the samples of later
// sightings), the timeline of changes and notes, and the toolbar's actions for this threat.
import { api, errorText, type Note, type Threat, type TimelineEntry } from '../api';
import { field, h, replace, select } from '../dom';
import {
  describeChange,
  evidenceEvent,
  evidenceSections,
  formatAgo,
  formatCount,
  formatTime,
  highlightRuns,
  prettyEvidence,
  severityLabel,
} from '../format';
import { type Page } from '../router';
import { serverRoutes } from './engines';
import { canWork, closedState, session } from '../session';

interface Delivery {
  id: number;
  kind: string;
  recipient: string;
  status: string;
  attempts: number;
  created_at: string;
  last_error: string;
}

export function threatPage(main: HTMLElement, id: number, project: string): Page {
  let destroyed = false;
  const query = () => (project ? new URLSearchParams({ project }) : undefined);
  const back = sessionStorage.getItem('td-last-overview') ?? `/threats?project=${encodeURIComponent(project)}`;
  const status = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });

  replace(
    main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: back }, '← Threats')),
    h('div', { class: 'spinner', role: 'progressbar', 'aria-label': 'Loading the threat' }),
  );

  async function load(): Promise<void> {
    try {
      const withDeliveries = (await serverRoutes()).has('/api/v1/threats/{id}/deliveries');
      const [t, timeline, notes, deliveries] = await Promise.all([
        api<Threat>('GET', `/api/v1/threats/${id}`, { query: query() }),
        api<{ items: TimelineEntry[] }>('GET', `/api/v1/threats/${id}/timeline`, { query: query() }),
        api<{ items: Note[] }>('GET', `/api/v1/threats/${id}/notes`, { query: query() }),
        withDeliveries
          ? api<{ items: Delivery[] }>('GET', `/api/v1/threats/${id}/deliveries`, { query: query() }).catch(() => ({ items: [] }))
          : Promise.resolve({ items: [] as Delivery[] }),
      ]);
      if (!destroyed) render(t, timeline.items, notes.items, deliveries.items);
    } catch (e) {
      if (destroyed) return;
      replace(
        main,
        h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: back }, '← Threats')),
        h('h1', null, `Threat ${id}`),
        h('p', { class: 'error banner', role: 'alert' }, `Could not load threat ${id}: ${errorText(e)}`),
      );
    }
  }

  async function change(body: Record<string, unknown>, what: string, button?: HTMLButtonElement): Promise<void> {
    if (button) button.disabled = true;
    try {
      await api<Threat>('PATCH', `/api/v1/threats/${id}`, { body, query: query() });
      await load();
      replace(status, h('span', { class: 'ok' }, `Done: ${what}.`));
    } catch (e) {
      replace(status, h('span', { class: 'error' }, `Nothing changed (${what}): ${errorText(e)}`));
    } finally {
      if (button) button.disabled = false;
    }
  }

  function actions(t: Threat): HTMLElement | null {
    if (!canWork()) return null;
    const closed = closedState();
    const group = select({ 'aria-label': 'Group' }, [...session.tags.group.map((g): [string, string] => [g, g]), ['', '(no group)']], t.group ?? '');
    const owner = select(
      { 'aria-label': 'Owner' },
      [...session.users.map((u): [string, string] => [u.email, u.email]), ['', '(unassigned)']],
      t.owner ?? '',
    );
    const state = select({ 'aria-label': 'State' }, session.tags.state.filter((s) => s !== closed).map((s) => [s, s]), t.closed ? '' : t.state);
    const outcome = select({ 'aria-label': 'Outcome' }, session.tags.outcome.map((s) => [s, s]), t.outcome ?? '');
    const btn = (label: string, fn: (b: HTMLButtonElement) => void) => {
      const b = h('button', { type: 'button', class: 'secondary' }, label);
      b.addEventListener('click', () => fn(b));
      return b;
    };
    return h(
      'section',
      { class: 'card actions', 'aria-label': 'Actions' },
      h('div', { class: 'action' }, group, btn('Assign group', (b) => change({ group: group.value }, `group ${group.value || '(none)'}`, b))),
      h('div', { class: 'action' }, owner, btn('Assign owner', (b) => change({ owner: owner.value }, `owner ${owner.value || '(none)'}`, b))),
      h('div', { class: 'action' }, state, btn(t.closed ? 'Reopen' : 'Change state', (b) => change({ state: state.value }, `state ${state.value}`, b))),
      t.closed ? null : h('div', { class: 'action' }, outcome, btn('Close', (b) => change({ state: closed, outcome: outcome.value }, `closed as ${outcome.value}`, b))),
    );
  }

  function evidenceView(evidence: unknown, title: string, searchable: boolean): HTMLElement {
    const text = prettyEvidence(evidence);
    const pre = h('pre', { class: 'evidence', tabindex: '0', 'aria-label': title });
    const count = h('span', { class: 'muted small', 'aria-live': 'polite' });
    const paint = (term: string) => {
      const runs = highlightRuns(text, term);
      replace(pre, runs.map((r) => (r.match ? h('mark', null, r.text) : r.text)));
      const hits = runs.filter((r) => r.match).length;
      count.textContent = term ? `${hits} match${hits === 1 ? '' : 'es'}` : '';
      pre.querySelector('mark')?.scrollIntoView({ block: 'nearest' });
    };
    paint('');
    if (!searchable) return pre;
    const search = h('input', { type: 'search', placeholder: 'Search the evidence', 'aria-label': 'Search the evidence' });
    search.addEventListener('input', () => paint(search.value));
    return h('div', null, h('div', { class: 'row' }, search, count, h('button', { type: 'button', class: 'secondary small', onclick: () => navigator.clipboard?.writeText(text) }, 'Copy')), pre);
  }

  function render(t: Threat, timeline: TimelineEntry[], notes: Note[], deliveries: Delivery[]): void {
    const now = Date.now();
    const dl = (rows: [string, Node | string | null][]) =>
      h('dl', { class: 'fields' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? h('span', { class: 'muted' }, '—'))]));
    const samples = t.evidence_samples ?? [];
    // Changes and notes in one list, newest first; the note's text stands in for its "note" entry.
    const noteByTime = new Map(notes.map((n) => [n.at + n.author, n]));
    const items = timeline
      .slice()
      .sort((a, b) => b.at.localeCompare(a.at) || b.id - a.id)
      .map((e) => {
        const note = e.action === 'note' ? noteByTime.get(e.at + e.actor) : undefined;
        if (note) noteByTime.delete(e.at + e.actor);
        return h(
          'li',
          { class: `event ${e.action}` },
          h('time', { datetime: e.at, title: formatTime(e.at) }, formatAgo(e.at, now)),
          ' ',
          h('strong', null, e.actor),
          ' ',
          describeChange(e),
          note ? h('blockquote', { class: 'note' }, note.text) : null,
        );
      });
    // Notes without a matching timeline entry still show.
    for (const n of noteByTime.values())
      items.push(h('li', { class: 'event note' }, h('time', { datetime: n.at, title: formatTime(n.at) }, formatAgo(n.at, now)), ' ', h('strong', null, n.author), ' note', h('blockquote', { class: 'note' }, n.text)));
    // What went out about the threat (responses' e-mails and webhooks), in time order with the rest.
    const dated = items.map((li) => ({ at: li.querySelector('time')?.getAttribute('datetime') ?? '', li }));
    for (const d of deliveries)
      dated.push({
        at: d.created_at,
        li: h(
          'li',
          { class: `event delivery ${d.status}` },
          h('time', { datetime: d.created_at, title: formatTime(d.created_at) }, formatAgo(d.created_at, now)),
          ' ',
          h('strong', null, d.kind),
          ` to ${d.recipient}: ${d.status}`,
          d.attempts > 1 ? ` after ${d.attempts} tries` : '',
          d.last_error ? h('span', { class: 'error small' }, ` (${d.last_error})`) : null,
        ),
      });
    dated.sort((a, b) => b.at.localeCompare(a.at));
    items.splice(0, items.length, ...dated.map((x) => x.li));

    const noteText = h('textarea', { rows: 3, maxlength: 65536, required: true });
    const noteForm = canWork()
      ? h(
          'form',
          {
            class: 'note-form',
            onsubmit: async (e: Event) => {
              e.preventDefault();
              const text = noteText.value.trim();
              if (!text) return;
              const b = (e.target as HTMLFormElement).querySelector('button')!;
              b.disabled = true;
              try {
                await api('POST', `/api/v1/threats/${id}/notes`, { body: { text }, query: query() });
                noteText.value = '';
                await load();
                replace(status, h('span', { class: 'ok' }, 'Note added.'));
              } catch (err) {
                replace(status, h('span', { class: 'error' }, `The note was not added: ${errorText(err)}`));
              } finally {
                b.disabled = false;
              }
            },
          },
          field('Add a note', noteText),
          h('button', { type: 'submit' }, 'Add note'),
        )
      : null;

    replace(
      main,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: back }, '← Threats'), h('span', { class: 'muted' }, ` / #${t.id}`)),
      h(
        'div',
        { class: 'page-head' },
        h('h1', null, t.name),
        h('span', { class: `sev sev-${t.severity.toLowerCase()}` }, severityLabel(t.severity)),
        h('span', { class: 'score big' }, `score ${t.score}`),
        h('span', { class: `state${t.closed ? ' closed' : ''}` }, t.state + (t.outcome ? ` (${t.outcome})` : '')),
      ),
      status,
      actions(t),
      h(
        'div',
        { class: 'detail-grid' },
        h(
          'div',
          null,
          t.description ? h('section', { class: 'card' }, h('h2', null, 'Description'), h('p', { class: 'pre-line' }, t.description)) : null,
          evidenceSections(t.evidence).map((sec) =>
            h(
              'section',
              { class: 'card', 'aria-label': sec.title },
              h('h2', null, sec.title),
              dl(sec.rows.map(([k, v]): [string, string] => [k, v])),
              sec.links?.length
                ? h('ul', { class: 'links' }, sec.links.map((u) => h('li', null, h('a', { href: u, target: '_blank', rel: 'noopener noreferrer' }, u))))
                : null,
            ),
          ),
          evidenceEvent(t.evidence) !== undefined
            ? h('section', { class: 'card', 'aria-labelledby': 'event-title' }, h('h2', { id: 'event-title' }, 'Matching event'), evidenceView(evidenceEvent(t.evidence), 'Matching event', true))
            : null,
          h(
            'section',
            { class: 'card', 'aria-labelledby': 'ev-title' },
            h('h2', { id: 'ev-title' }, evidenceEvent(t.evidence) !== undefined ? 'Full evidence' : 'Evidence'),
            evidenceView(t.evidence, 'Evidence', evidenceEvent(t.evidence) === undefined),
          ),
          samples.length
            ? h(
                'section',
                { class: 'card' },
                h('h2', null, `Later sightings (${formatCount(samples.length)} samples of ${formatCount(t.count)})`),
                samples.map((s, i) => h('details', null, h('summary', null, `Sample ${i + 1}`), evidenceView(s, `Sample ${i + 1}`, false))),
              )
            : null,
        ),
        h(
          'div',
          null,
          h(
            'section',
            { class: 'card' },
            h('h2', null, 'Details'),
            dl([
              ['ID', String(t.id)],
              ['Kind', t.kind],
              ['Source', t.source],
              ['Rule', t.rule_id],
              ['Rule group', t.rule_group],
              ['Entity', t.entity ? `${t.entity.type}: ${t.entity.value}` : null],
              ['Entity group', t.entity_group],
              ['Host', t.host],
              ['Group', t.group],
              ['Owner', t.owner],
              ['State', t.state],
              ['Outcome', t.outcome],
              ['Count', formatCount(t.count)],
              ['Tags', t.tags.length ? h('span', null, t.tags.map((x) => h('span', { class: 'tag' }, x))) : null],
              ['De-duplication key', t.check_by ? t.check_by.split(/[\u0000-\u001f]+/).join(' · ') : null],
              ['Created', formatTime(t.created_at)],
              ['Last seen', formatTime(t.last_seen)],
              ['Updated', formatTime(t.updated_at)],
              ['Closed', t.closed_at ? formatTime(t.closed_at) : null],
            ]),
          ),
          h('section', { class: 'card', 'aria-labelledby': 'tl-title' }, h('h2', { id: 'tl-title' }, 'Timeline'), noteForm, h('ol', { class: 'timeline-list' }, items)),
        ),
      ),
    );
  }

  void load();
  return {
    destroy() {
      destroyed = true;
    },
  };
}
