// The application shell: header (navigation, project, theme, sign out), routing to the pages,
// and the sign-in gate.
import './style.css';
import { api, setUnauthenticatedHandler } from './api';
import { h, replace, select } from './dom';
import { availableEngines, ENGINE_PAGES, serverRoutes, intelPage, responsesPage, rulesPage, vulnerabilitiesPage, type Engine } from './pages/engines';
import { loginPage } from './pages/login';
import { overviewPage } from './pages/overview';
import { reportsPage } from './pages/reports';
import { settingsPage } from './pages/settings';
import { threatPage } from './pages/threat';
import { navigate, onNavigate, withProject, type Page } from './router';
import { loadMe, loadTags, loadUsers, session } from './session';

const app = document.getElementById('app')!;
let current: { key: string; page: Page } | null = null;
let loadedProject: string | null = null;

function applyTheme(): void {
  const theme = localStorage.getItem('td-theme');
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
applyTheme();

function currentProject(url: URL): string {
  return url.searchParams.get('project') || session.me?.projects[0]?.name || '';
}

function header(url: URL, project: string, engines: Set<Engine>): HTMLElement {
  const path = url.pathname;
  const link = (href: string, label: string, active: boolean) =>
    h('a', { href: withProject(href, project), 'aria-current': active ? 'page' : undefined }, label);
  const projects = session.me?.projects ?? [];
  const projectSelect = select(
    {
      'aria-label': 'Project',
      onchange: (e: Event) => {
        const next = new URL(location.href);
        next.searchParams.set('project', (e.target as HTMLSelectElement).value);
        next.searchParams.delete('cursor');
        const p = encodeURIComponent((e.target as HTMLSelectElement).value);
        // A threat or report belongs to one project: another project starts from its list.
        navigate(next.pathname.startsWith('/threats/') ? `/threats?project=${p}` : next.pathname.startsWith('/reports/') ? `/reports?project=${p}` : next.href);
      },
    },
    projects.map((p) => [p.name, p.name]),
    project,
  );
  const dark =
    document.documentElement.dataset.theme === 'dark' ||
    (!document.documentElement.dataset.theme && matchMedia('(prefers-color-scheme: dark)').matches);
  return h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: withProject('/threats', project) }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'ThreatDesk'),
    h(
      'nav',
      { 'aria-label': 'Main' },
      link('/threats', 'Threats', path === '/' || path.startsWith('/threats')),
      ENGINE_PAGES.filter((e) => engines.has(e.engine)).map((e) => link(e.path, e.label, path.startsWith(e.path))),
      link('/settings', 'Settings', path.startsWith('/settings')),
    ),
    h(
      'div',
      { class: 'topbar-right' },
      projects.length > 1 ? projectSelect : h('span', { class: 'muted' }, project),
      h(
        'button',
        {
          type: 'button',
          class: 'icon-button',
          'aria-label': dark ? 'Use the light theme' : 'Use the dark theme',
          title: dark ? 'Light theme' : 'Dark theme',
          onclick: () => {
            localStorage.setItem('td-theme', dark ? 'light' : 'dark');
            applyTheme();
            render(true);
          },
        },
        dark ? '☀' : '☾',
      ),
      h('span', { class: 'user', title: session.me?.user?.role }, session.me?.user?.email ?? ''),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: async () => {
            try {
              await api('POST', '/api/v1/auth/logout', { body: {} });
            } finally {
              session.me = null;
              loadedProject = null;
              navigate('/login');
            }
          },
        },
        'Sign out',
      ),
    ),
  );
}

async function render(force = false): Promise<void> {
  const url = new URL(location.href);
  if (url.pathname === '/login') {
    current?.page.destroy();
    current = { key: 'login', page: loginPage(app, url) };
    return;
  }
  if (!session.me) {
    const me = await loadMe();
    if (!me) {
      navigate(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
      return;
    }
  }
  if (url.pathname === '/') {
    navigate(`/threats${url.search}`, { replace: true });
    return;
  }
  const project = currentProject(url);
  const path = url.pathname === '/' ? '/threats' : url.pathname;
  const detail = /^\/threats\/(\d+)$/.exec(path);
  // Tags, users and the route list load side by side; the overview then asks for its data.
  const meta = loadedProject !== project ? Promise.all([loadTags(project).catch(() => {}), loadUsers()]) : null;
  const engines = await availableEngines();
  const engine = ENGINE_PAGES.find((e) => engines.has(e.engine) && (path === e.path || (e.engine === 'reports' && path.startsWith('/reports/'))));
  // Report pages differ by address (list, one report, the editor): each is its own page.
  const key = detail ? `threat:${detail[1]}` : engine?.engine === 'reports' ? `reports:${path}${url.search}` : path.startsWith('/settings') ? 'settings' : engine ? engine.engine : path === '/threats' ? 'overview' : 'missing';
  if (!force && current && current.key === key && loadedProject === project && current.page.update) {
    current.page.update(url);
    return;
  }
  current?.page.destroy();
  current = null;
  if (meta) {
    await meta;
    loadedProject = project;
  }
  const main = h('main', { id: 'main', tabindex: '-1' });
  replace(app, header(url, project, engines), main);
  let page: Page;
  if (detail) page = threatPage(main, Number(detail[1]), project);
  else if (key === 'settings') page = settingsPage(main, project);
  else if (engine?.engine === 'rules') page = rulesPage(main);
  else if (engine?.engine === 'intel') page = intelPage(main, project);
  else if (engine?.engine === 'vulnerabilities') page = vulnerabilitiesPage(main, project);
  else if (engine?.engine === 'responses') page = responsesPage(main, project);
  else if (engine?.engine === 'reports') page = reportsPage(main, url, project);
  else if (path === '/threats') page = overviewPage(main, url, project);
  else {
    replace(main, h('h1', null, 'Not found'), h('p', null, h('a', { href: '/threats' }, 'Go to the threats')));
    page = { destroy() {} };
  }
  current = { key, page };
}

setUnauthenticatedHandler(() => {
  session.me = null;
  loadedProject = null;
  if (location.pathname !== '/login')
    navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
});
onNavigate(() => void render());
void serverRoutes(); // public: fetched while /me is asked for
void render();
