// Client-side routing with the History API: the server answers every non-API path with
// index.html, so /threats/42?project=Payments is a real, shareable address.

export interface Page {
  /** The URL changed but the page stays (e.g. new filters): refresh in place. */
  update?(url: URL): void;
  destroy(): void;
}

type Listener = () => void;
const listeners: Listener[] = [];

export function onNavigate(fn: Listener): void {
  listeners.push(fn);
}

let leaveGuard: (() => boolean) | null = null;
/** A page with unsaved work asks before an in-app link or navigate() leaves it (false stays). */
export function setLeaveGuard(fn: (() => boolean) | null): void {
  leaveGuard = fn;
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = new URL(to, location.href);
  if (url.href === location.href) return;
  if (leaveGuard && !leaveGuard()) return;
  if (opts.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((fn) => fn());
}

window.addEventListener('popstate', () => listeners.forEach((fn) => fn()));

// Same-origin links navigate without a reload (unless a modifier key asks for a new tab).
document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || e.defaultPrevented) return;
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  navigate(url.href);
});

/** Keeps `project` from the current address when building a link. */
export function withProject(path: string, project: string): string {
  if (!project) return path;
  const url = new URL(path, location.origin);
  url.searchParams.set('project', project);
  return url.pathname + url.search;
}
