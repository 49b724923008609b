// Who is signed in, what they may do, and the organisation's tags (groups, states, outcomes) and
// users that the filters and the toolbar offer. Loaded once per sign-in; tags reload on change.
import { api, setCsrf, type Me, type Tag, type User } from './api';

const ROLE_RANK: Record<string, number> = { readonly: 0, operator: 1, manager: 2, admin: 3 };

export interface Tags {
  group: string[];
  state: string[]; // in order; the last is the closed state
  outcome: string[];
}

export const session: {
  me: Me | null;
  tags: Tags;
  users: User[];
} = { me: null, tags: { group: [], state: [], outcome: [] }, users: [] };

export function role(): string {
  return session.me?.user?.role ?? 'readonly';
}
/** Operators and above work threats; readonly users only look. */
export function canWork(): boolean {
  return (ROLE_RANK[role()] ?? 0) >= ROLE_RANK.operator;
}
export function canManageTags(): boolean {
  return (ROLE_RANK[role()] ?? 0) >= ROLE_RANK.manager;
}
export function isAdmin(): boolean {
  return role() === 'admin';
}

export function closedState(): string {
  return session.tags.state[session.tags.state.length - 1] ?? 'Closed';
}

/** Loads the caller; null when not signed in. */
export async function loadMe(): Promise<Me | null> {
  try {
    const me = await api<Me>('GET', '/api/v1/me', { quiet: true });
    session.me = me;
    if (me.csrf_token) setCsrf(me.csrf_token);
    return me;
  } catch {
    session.me = null;
    return null;
  }
}

function projectQuery(project: string): URLSearchParams {
  const q = new URLSearchParams();
  if (project) q.set('project', project);
  return q;
}

export async function loadTags(project: string): Promise<void> {
  const kinds = ['group', 'state', 'outcome'] as const;
  const lists = await Promise.all(
    kinds.map((k) => api<{ items: Tag[] }>('GET', `/api/v1/tags/${k}`, { query: projectQuery(project), quiet: true })),
  );
  kinds.forEach((k, i) => {
    session.tags[k] = lists[i].items.sort((a, b) => a.position - b.position).map((t) => t.name);
  });
}

export async function loadUsers(): Promise<void> {
  try {
    const r = await api<{ items: User[] }>('GET', '/api/v1/users', { quiet: true });
    session.users = r.items.filter((u) => !u.disabled);
  } catch {
    session.users = [];
  }
}
