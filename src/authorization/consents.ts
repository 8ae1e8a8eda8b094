import type { AuthorizationRequest } from "./request.js";

/**
 * Remembered consent: the scopes a user approved for a client. Identity providers that sign in
 * upstream ask for consent before the upstream redirect, and later requests within that scope
 * skip the consent page.
 */
export async function hasConsent(db: D1Database, userId: string, request: AuthorizationRequest): Promise<boolean> {
  const row = await db
    .prepare("SELECT scope FROM consents WHERE user_id = ? AND client_id = ?")
    .bind(userId, request.client.client_id)
    .first<{ scope: string }>();
  if (!row) return false;
  const approved = row.scope.split(" ");
  return request.scope.split(" ").every((scope) => approved.includes(scope));
}

/** Records that a user approved a client for the request's scopes, adding to what was approved before. */
export async function rememberConsent(db: D1Database, userId: string, request: AuthorizationRequest, now: number): Promise<void> {
  const row = await db
    .prepare("SELECT scope FROM consents WHERE user_id = ? AND client_id = ?")
    .bind(userId, request.client.client_id)
    .first<{ scope: string }>();
  const scopes = new Set([...(row?.scope.split(" ") ?? []), ...request.scope.split(" ")]);
  await db
    .prepare(
      `INSERT INTO consents (user_id, client_id, scope, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, created_at = excluded.created_at`,
    )
    .bind(userId, request.client.client_id, [...scopes].join(" "), now)
    .run();
}
