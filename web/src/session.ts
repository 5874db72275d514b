// The signed-in session. The token lives in this tab's sessionStorage (see README "The web app":
// it survives the trip to the bank's page and back and a reload, not the tab's closing, and no other
// tab or site can read it; a strict CSP with no inline scripts is what keeps injected scripts away).
import { createStore } from './store';

export interface SessionUser {
  id: string;
  name: string;
  phone: string;
}
export interface Session {
  token: string;
  user: SessionUser;
}

const storageKey = 'zenpay.session';

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(storageKey);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Session;
    return typeof parsed.token === 'string' && parsed.user ? parsed : null;
  } catch {
    return null;
  }
}

export const session = createStore<Session | null>(load());
/** Why the last session ended, shown on the sign-in screen. */
export const endedBecause = createStore<string | null>(null);

export function signedIn(value: Session): void {
  sessionStorage.setItem(storageKey, JSON.stringify(value));
  endedBecause.set(null);
  session.set(value);
}

export function signedOut(reason: string | null = null): void {
  sessionStorage.removeItem(storageKey);
  endedBecause.set(reason);
  session.set(null);
}

export const token = (): string | null => session.get()?.token ?? null;
