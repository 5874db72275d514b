// Client-side routes on the History API (the API serves the shell for every app path).
import { createStore, useStore } from './store';

export const location$ = createStore({ path: window.location.pathname, search: window.location.search });

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = new URL(to, window.location.origin);
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  location$.set({ path: url.pathname, search: url.search });
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => location$.set({ path: window.location.pathname, search: window.location.search }));

export const useLocation = () => useStore(location$);

/** Same-origin links go through the router; others (the bank) leave the app. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as HTMLElement | null)?.closest?.('a');
  if (!anchor || anchor.target || anchor.hasAttribute('download') || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(anchor.href, window.location.href);
  if (url.origin !== window.location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}
