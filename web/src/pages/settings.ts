// Settings: the organisation's custom tags (groups, states in order, outcomes), users and API
// tokens. What the signed-in role may not do is not offered.
import { api, errorText, type ApiToken, type Project, type Tag, type User } from '../api';
import { field, h, replace, select } from '../dom';
import { formatAgo, formatTime } from '../format';
import { type Page } from '../router';
import { serverRoutes } from './engines';
import { canManageTags, isAdmin, loadTags, loadUsers, session } from '../session';

export function settingsPage(main: HTMLElement, project: string): Page {
  let destroyed = false;
  const query = () => (project ? new URLSearchParams({ project }) : undefined);
  type Tab = 'Tags' | 'Users' | 'API tokens' | 'My subscriptions';
  const tabs: Tab[] = ['Tags', 'Users', 'API tokens'];
  let tab: Tab = (sessionStorage.getItem('td-settings-tab') as Tab) || 'Tags';
  const panel = h('div', { role: 'tabpanel', id: 'settings-panel', tabindex: '0' });
  const tabBar = h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Settings' });
  const status = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const say = (text: string, error = false) => replace(status, h('span', { class: error ? 'error' : 'ok' }, text));

  function renderTabs(): void {
    replace(
      tabBar,
      tabs.map((t) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            'aria-selected': String(t === tab),
            'aria-controls': 'settings-panel',
            tabindex: t === tab ? '0' : '-1',
            onclick: () => {
              tab = t;
              sessionStorage.setItem('td-settings-tab', t);
              replace(status);
              renderTabs();
              void renderPanel();
            },
            onkeydown: (e: KeyboardEvent) => {
              if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
              const i = (tabs.indexOf(t) + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length;
              (tabBar.children[i] as HTMLButtonElement).click();
              (tabBar.children[i] as HTMLButtonElement).focus();
            },
          },
          t,
        ),
      ),
    );
  }

  async function tagsPanel(): Promise<HTMLElement> {
    const kinds: [string, string, string][] = [
      ['group', 'Threat groups', 'The teams\u2019 queues.'],
      ['state', 'States', 'In order; the last one is the closed state.'],
      ['outcome', 'Outcomes', 'Chosen when a threat is closed.'],
    ];
    const lists = await Promise.all(kinds.map(([k]) => api<{ items: Tag[] }>('GET', `/api/v1/tags/${k}`, { query: query() })));
    const manage = canManageTags();
    return h(
      'div',
      { class: 'tag-grid' },
      kinds.map(([kind, title, help], i) => {
        const items = lists[i].items.sort((a, b) => a.position - b.position);
        const input = h('input', { type: 'text', required: true, maxlength: 256 });
        return h(
          'section',
          { class: 'card', 'aria-label': title },
          h('h2', null, title),
          h('p', { class: 'muted small' }, help),
          h(
            'ul',
            { class: 'tag-list' },
            items.map((t) =>
              h(
                'li',
                null,
                h('span', null, t.name),
                manage
                  ? h(
                      'span',
                      { class: 'row' },
                      h('button', {
                        type: 'button',
                        class: 'link',
                        'aria-label': `Rename ${t.name}`,
                        onclick: async () => {
                          const name = prompt(`New name for ${t.name}`, t.name);
                          if (!name || name === t.name) return;
                          try {
                            await api('PATCH', `/api/v1/tags/${kind}/${t.id}`, { body: { name }, query: query() });
                            say(`Renamed ${t.name} to ${name}.`);
                            await loadTags(project);
                            void renderPanel();
                          } catch (e) {
                            say(`Not renamed: ${errorText(e)}`, true);
                          }
                        },
                      }, 'Rename'),
                      h('button', {
                        type: 'button',
                        class: 'link danger',
                        'aria-label': `Delete ${t.name}`,
                        onclick: async () => {
                          if (!confirm(`Delete ${t.name}?`)) return;
                          const q = query() ?? new URLSearchParams();
                          try {
                            await api('DELETE', `/api/v1/tags/${kind}/${t.id}`, { query: q });
                          } catch (e) {
                            const others = items.filter((x) => x.id !== t.id).map((x) => x.name);
                            const replacement = prompt(`${errorText(e)}\nMove its threats to (one of: ${others.join(', ')})`, others[0] ?? '');
                            if (!replacement) return;
                            q.set('replacement', replacement);
                            try {
                              await api('DELETE', `/api/v1/tags/${kind}/${t.id}`, { query: q });
                            } catch (e2) {
                              say(`Not deleted: ${errorText(e2)}`, true);
                              return;
                            }
                          }
                          say(`Deleted ${t.name}.`);
                          await loadTags(project);
                          void renderPanel();
                        },
                      }, 'Delete'),
                    )
                  : null,
              ),
            ),
          ),
          manage
            ? h(
                'form',
                {
                  class: 'row',
                  onsubmit: async (e: Event) => {
                    e.preventDefault();
                    try {
                      await api('POST', `/api/v1/tags/${kind}`, { body: { name: input.value.trim() }, query: query() });
                      say(`Added ${input.value.trim()}.`);
                      await loadTags(project);
                      void renderPanel();
                    } catch (err) {
                      say(`Not added: ${errorText(err)}`, true);
                    }
                  },
                },
                field(`New ${kind}`, input),
                h('button', { type: 'submit', class: 'secondary' }, 'Add'),
              )
            : null,
        );
      }),
    );
  }

  async function usersPanel(): Promise<HTMLElement> {
    const users = await api<{ items: User[] }>('GET', '/api/v1/users');
    const form = isAdmin() ? newUserForm() : null;
    return h(
      'div',
      null,
      h(
        'div',
        { class: 'table-wrap card' },
        h(
          'table',
          { class: 'plain' },
          h('caption', { class: 'sr-only' }, 'Users'),
          h('thead', null, h('tr', null, ['E-mail', 'Name', 'Role', 'Time zone', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
          h(
            'tbody',
            null,
            users.items.map((u) =>
              h('tr', null, h('td', null, u.email, u.disabled ? h('span', { class: 'tag' }, 'disabled') : null), h('td', null, u.display_name), h('td', null, u.role), h('td', null, u.time_zone), h('td', null, formatTime(u.created_at))),
            ),
          ),
        ),
      ),
      form,
    );
  }

  function newUserForm(): HTMLElement {
    const email = h('input', { type: 'email', required: true });
    const name = h('input', { type: 'text' });
    const role = select(null, ['readonly', 'operator', 'manager', 'admin'].map((r) => [r, r]), 'operator');
    const password = h('input', { type: 'password', minlength: 12, autocomplete: 'new-password', placeholder: 'leave empty to generate' });
    return h(
      'form',
      {
        class: 'card form-grid',
        'aria-label': 'New user',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const body: Record<string, unknown> = { email: email.value.trim(), role: role.value };
          if (name.value.trim()) body.display_name = name.value.trim();
          if (password.value) body.password = password.value;
          try {
            const r = await api<{ password?: string; user?: User; email?: string }>('POST', '/api/v1/users', { body });
            say(r.password ? `Created ${body.email}. Password (shown once): ${r.password}` : `Created ${body.email}.`);
            await loadUsers();
            void renderPanel();
          } catch (err) {
            say(`No user created: ${errorText(err)}`, true);
          }
        },
      },
      h('h2', null, 'Add a user'),
      field('E-mail', email),
      field('Display name', name),
      field('Role', role),
      field('Password', password),
      h('button', { type: 'submit' }, 'Add user'),
    );
  }

  async function tokensPanel(): Promise<HTMLElement> {
    if (!isAdmin()) return h('p', { class: 'muted' }, 'Only administrators manage API tokens.');
    const [tokens, projects] = await Promise.all([
      api<{ items: ApiToken[] }>('GET', '/api/v1/tokens'),
      api<{ items: Project[] }>('GET', '/api/v1/projects'),
    ]);
    const projectName = (id: number) => projects.items.find((p) => p.id === id)?.name ?? String(id);
    const now = Date.now();
    const name = h('input', { type: 'text', required: true, maxlength: 256 });
    const proj = select(null, projects.items.map((p) => [p.name, p.name]), project);
    const scopes = ['read', 'write', 'ingest'].map((s) => h('input', { type: 'checkbox', value: s, checked: s === 'read', id: `scope-${s}` }));
    return h(
      'div',
      null,
      h(
        'div',
        { class: 'table-wrap card' },
        h(
          'table',
          { class: 'plain' },
          h('caption', { class: 'sr-only' }, 'API tokens'),
          h('thead', null, h('tr', null, ['Name', 'Project', 'Prefix', 'Scopes', 'Created', 'Last used', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h(
            'tbody',
            null,
            tokens.items.map((t) =>
              h(
                'tr',
                { class: t.revoked_at ? 'revoked' : '' },
                h('td', null, t.name),
                h('td', null, projectName(t.project_id)),
                h('td', null, h('code', null, t.prefix)),
                h('td', null, t.scopes.join(', ')),
                h('td', null, formatTime(t.created_at)),
                h('td', null, t.last_used_at ? formatAgo(t.last_used_at, now) : 'never'),
                h(
                  'td',
                  null,
                  t.revoked_at
                    ? h('span', { class: 'muted' }, 'revoked')
                    : h('button', {
                        type: 'button',
                        class: 'link danger',
                        'aria-label': `Revoke ${t.name}`,
                        onclick: async () => {
                          if (!confirm(`Revoke ${t.name}? Scripts using it stop working.`)) return;
                          try {
                            await api('DELETE', `/api/v1/tokens/${t.id}`);
                            say(`Revoked ${t.name}.`);
                            void renderPanel();
                          } catch (e) {
                            say(`Not revoked: ${errorText(e)}`, true);
                          }
                        },
                      }, 'Revoke'),
                ),
              ),
            ),
          ),
        ),
      ),
      h(
        'form',
        {
          class: 'card form-grid',
          'aria-label': 'New API token',
          onsubmit: async (e: Event) => {
            e.preventDefault();
            const chosen = scopes.filter((s) => s.checked).map((s) => s.value);
            try {
              const r = await api<{ token: string }>('POST', '/api/v1/tokens', { body: { name: name.value.trim(), project: proj.value, scopes: chosen } });
              await renderPanel();
              replace(status, h('span', { class: 'ok' }, 'Token created. Copy it now; it is shown once: '), h('code', { class: 'secret' }, r.token));
            } catch (err) {
              say(`No token created: ${errorText(err)}`, true);
            }
          },
        },
        h('h2', null, 'Create a token'),
        field('Name', name),
        field('Project', proj),
        h('fieldset', null, h('legend', null, 'Scopes'), scopes.map((s) => h('label', { class: 'inline', for: s.id }, s, ` ${s.value}`))),
        h('button', { type: 'submit' }, 'Create token'),
      ),
    );
  }

  async function subscriptionsPanel(): Promise<HTMLElement> {
    const [subs, groups] = await Promise.all([
      api<{ items: { group_id: number; group: string; on_assign: boolean; on_change: boolean }[] }>('GET', '/api/v1/me/subscriptions', { query: query() }),
      api<{ items: Tag[] }>('GET', '/api/v1/tags/group', { query: query() }),
    ]);
    const byGroup = new Map(subs.items.map((x) => [x.group_id, x]));
    const save = async (g: Tag, onAssign: boolean, onChange: boolean) => {
      try {
        if (!onAssign && !onChange) await api('DELETE', `/api/v1/me/subscriptions/${g.id}`, { query: query() });
        else await api('PUT', `/api/v1/me/subscriptions/${g.id}`, { query: query(), body: { on_assign: onAssign, on_change: onChange } });
        say(`Subscriptions for ${g.name} saved.`);
      } catch (e) {
        say(`Not saved: ${errorText(e)}`, true);
        void renderPanel();
      }
    };
    return h(
      'section',
      { class: 'card', 'aria-label': 'My threat-group subscriptions' },
      h('p', { class: 'muted small' }, 'Be notified when a threat of a group is assigned, or when one changes.'),
      h(
        'table',
        { class: 'plain' },
        h('caption', { class: 'sr-only' }, 'My subscriptions'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Group'), h('th', { scope: 'col' }, 'On assignment'), h('th', { scope: 'col' }, 'On change'))),
        h(
          'tbody',
          null,
          groups.items
            .sort((a, b) => a.position - b.position)
            .map((g) => {
              const sub = byGroup.get(g.id);
              const assign = h('input', { type: 'checkbox', checked: sub?.on_assign ?? false, 'aria-label': `${g.name}: notify on assignment` });
              const change = h('input', { type: 'checkbox', checked: sub?.on_change ?? false, 'aria-label': `${g.name}: notify on change` });
              const onToggle = () => void save(g, assign.checked, change.checked);
              assign.addEventListener('change', onToggle);
              change.addEventListener('change', onToggle);
              return h('tr', null, h('td', null, g.name), h('td', null, assign), h('td', null, change));
            }),
        ),
      ),
    );
  }

  async function renderPanel(): Promise<void> {
    replace(panel, h('div', { class: 'spinner', role: 'progressbar', 'aria-label': 'Loading' }));
    try {
      const content =
        tab === 'Tags' ? await tagsPanel() : tab === 'Users' ? await usersPanel() : tab === 'My subscriptions' ? await subscriptionsPanel() : await tokensPanel();
      if (!destroyed) replace(panel, content);
    } catch (e) {
      if (!destroyed) replace(panel, h('p', { class: 'error banner', role: 'alert' }, `Could not load ${tab.toLowerCase()}: ${errorText(e)}`));
    }
  }

  replace(main, h('div', { class: 'page-head' }, h('h1', null, 'Settings'), h('span', { class: 'muted' }, `${session.me?.user?.email ?? ''} · ${session.me?.user?.role ?? ''}`)), tabBar, status, panel);
  void serverRoutes().then((paths) => {
    if (destroyed) return;
    if (paths.has('/api/v1/me/subscriptions')) tabs.splice(2, 0, 'My subscriptions');
    if (!tabs.includes(tab)) tab = 'Tags';
    renderTabs();
    void renderPanel();
  });
  return {
    destroy() {
      destroyed = true;
    },
  };
}
