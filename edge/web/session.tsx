/**
 * The signed-in user's token: taken from a login link (`/#token=<jwt>`: a fragment never
 * reaches a server or its logs), or pasted; kept in localStorage on this device only.
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { TetherClient } from "../../shared/client/light.ts";

const KEY = "tether.token";

/** Moves a token from the URL's fragment into storage and removes it from the address bar. */
export function takeTokenFromURL(): string | null {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  const token = decodeURIComponent(match[1]!).trim();
  history.replaceState(null, "", location.pathname + location.search);
  if (!token) return null;
  saveToken(token);
  return token;
}

export function loadToken(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  localStorage.setItem(KEY, token);
}

export function clearToken(): void {
  localStorage.removeItem(KEY);
}

/** The login link for this edge: opening it on another device signs that device in. */
export function loginLink(token: string): string {
  return `${location.origin}/#token=${encodeURIComponent(token)}`;
}

export interface Session {
  client: TetherClient;
  token: string;
  /** The user named in the token, when it says. */
  user: string | null;
  signOut: (reason?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in app");
  return session;
}

/** The `sub` claim of a JWT, read without checking it (the edge checks; this is for display). */
export function tokenSubject(token: string): string | null {
  try {
    const payload = token.split(".")[1];
    if (!payload) return null;
    const json = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: unknown };
    return typeof json.sub === "string" ? json.sub : null;
  } catch {
    return null;
  }
}
