import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppContext } from "./context.js";
import { matchesHash, randomToken, sha256 } from "./crypto.js";
import type { User } from "./users.js";

/** A signed-in browser session at this server, used by the authorization endpoint only. */
export interface Session {
  userId: string;
  /** The user's display name, or the subject at the identity provider when there is none. */
  userName: string;
  /** Token that the consent form must echo; bound to this session. */
  csrfToken: string;
}

/**
 * The `__Host-` prefix pins the cookie to this host and path "/" and requires `Secure`. Browsers
 * accept `Secure` cookies from http://localhost and http://127.0.0.1 (both are secure contexts),
 * so the same cookie works in loopback development.
 */
const COOKIE = "__Host-session";

/**
 * Sets a `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, path "/", no domain, lasting `maxAge`
 * seconds. Every cookie of this server is one of these.
 */
export function setHostCookie(c: AppContext, name: `__Host-${string}`, value: string, maxAge: number): void {
  setCookie(c, name, value, { path: "/", secure: true, httpOnly: true, sameSite: "Lax", maxAge });
}

/** Starts a session for a user and sets its cookie; the cookie value is stored only as a hash. */
export async function startSession(c: AppContext, user: User): Promise<Session> {
  const userId = user.id;
  const id = randomToken();
  const csrfToken = randomToken();
  const now = c.var.now();
  const ttl = c.var.config.SESSION_TTL;

  await c.env.DB.prepare("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
    .bind(await sha256(id), userId, csrfToken, now, now + ttl)
    .run();

  setHostCookie(c, COOKIE, id, ttl);
  return { userId, userName: user.name ?? user.subject, csrfToken };
}

/** Returns the session named by the request's cookie, or `undefined` when there is none or it expired. */
export async function currentSession(c: AppContext): Promise<Session | undefined> {
  const id = getCookie(c, COOKIE);
  if (!id) return undefined;

  const row = await c.env.DB.prepare(
    `SELECT s.user_id, s.csrf_token, s.expires_at, u.name, u.subject
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
  )
    .bind(await sha256(id))
    .first<{ user_id: string; csrf_token: string; expires_at: number; name: string | null; subject: string }>();
  if (!row || row.expires_at <= c.var.now()) return undefined;
  return { userId: row.user_id, userName: row.name ?? row.subject, csrfToken: row.csrf_token };
}

/** Checks a submitted CSRF token against the session's in constant time. */
export async function checkCsrfToken(session: Session, submitted: string | undefined): Promise<boolean> {
  if (!submitted) return false;
  return matchesHash(submitted, await sha256(session.csrfToken));
}

/** Ends the session named by the request's cookie. */
export async function endSession(c: AppContext): Promise<void> {
  const id = getCookie(c, COOKIE);
  if (id) await c.env.DB.prepare("DELETE FROM sessions WHERE id_hash = ?").bind(await sha256(id)).run();
  deleteCookie(c, COOKIE, { path: "/", secure: true });
}
