import { randomToken, sha256 } from "./crypto.js";

/**
 * A grant: one user's approval of one client for a scope and resource. Refresh tokens belong to
 * a grant; revoking the grant revokes every refresh token of the family and makes introspection
 * report its access tokens inactive.
 */
export interface Grant {
  id: string;
  client_id: string;
  user_id: string;
  scope: string;
  resource: string;
  revoked_at: number | null;
}

/** A refresh token's row joined with its grant. */
export interface RefreshTokenRecord extends Grant {
  grant_id: string;
  /** The user's display name, for the access token's `name` claim. */
  user_name: string | null;
  expires_at: number;
  rotated_at: number | null;
}

export interface NewGrant {
  clientId: string;
  userId: string;
  scope: string;
  resource: string;
}

export type Redemption =
  | { outcome: "issued"; grantId: string; refreshToken?: string }
  | { outcome: "replayed"; revokedGrantId?: string };

/**
 * Redeems an authorization code at most once, in one D1 transaction (a batch), and creates its
 * grant. KV cannot do this: it has no compare-and-swap and is eventually consistent, so two
 * redemptions could both read the code. The first batch to insert the code's row wins; any later
 * one finds a row with another grant id and revokes that grant (RFC 6749 §4.1.2: a code used twice
 * "SHOULD revoke (when possible) all tokens previously issued based on that authorization code").
 */
export async function redeemCode(
  db: D1Database,
  codeHash: string,
  grant: NewGrant,
  options: { now: number; codeExpiresAt: number; expiresAt: number; issueRefreshToken: boolean },
): Promise<Redemption> {
  const grantId = randomToken(16);
  const { now, expiresAt } = options;
  const owned = "(SELECT grant_id FROM code_redemptions WHERE code_hash = ?1) = ?2";

  const statements = [
    db
      .prepare("INSERT INTO code_redemptions (code_hash, grant_id, redeemed_at, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (code_hash) DO NOTHING")
      .bind(codeHash, grantId, now, options.codeExpiresAt),
    db
      .prepare(
        `INSERT INTO grants (id, client_id, user_id, scope, resource, created_at, expires_at)
         SELECT ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE ${owned}`,
      )
      .bind(codeHash, grantId, grant.clientId, grant.userId, grant.scope, grant.resource, now, expiresAt),
    db
      .prepare(
        `UPDATE grants SET revoked_at = ?3
         WHERE id = (SELECT grant_id FROM code_redemptions WHERE code_hash = ?1) AND id <> ?2 AND revoked_at IS NULL`,
      )
      .bind(codeHash, grantId, now),
  ];

  let refreshToken: string | undefined;
  if (options.issueRefreshToken) {
    refreshToken = randomToken();
    statements.push(
      db
        .prepare(`INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT ?3, ?2, ?4, ?5 WHERE ${owned}`)
        .bind(codeHash, grantId, await sha256(refreshToken), now, expiresAt),
    );
  }

  const results = await db.batch(statements);
  if (results[1]!.meta.changes === 1) {
    return refreshToken === undefined ? { outcome: "issued", grantId } : { outcome: "issued", grantId, refreshToken };
  }
  const revoked = await db
    .prepare("SELECT grant_id FROM code_redemptions WHERE code_hash = ?")
    .bind(codeHash)
    .first<{ grant_id: string }>();
  return revoked ? { outcome: "replayed", revokedGrantId: revoked.grant_id } : { outcome: "replayed" };
}

/** Loads a refresh token with its grant, or `undefined` when the token is unknown. */
export async function findRefreshToken(db: D1Database, tokenHash: string): Promise<RefreshTokenRecord | undefined> {
  const row = await db
    .prepare(
      `SELECT g.id, g.client_id, g.user_id, g.scope, g.resource, g.revoked_at, r.grant_id, r.expires_at, r.rotated_at,
         u.name AS user_name
       FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id
       WHERE r.token_hash = ?`,
    )
    .bind(tokenHash)
    .first<RefreshTokenRecord>();
  return row ?? undefined;
}

/**
 * Rotates a refresh token: marks the old one rotated (keeping the first rotation time, which
 * starts the grace window) and issues a new one in the same grant, unless the grant was revoked.
 * @returns the new refresh token, or `undefined` when the grant was revoked meanwhile
 */
export async function rotateRefreshToken(
  db: D1Database,
  oldHash: string,
  grantId: string,
  options: { now: number; ttl: number },
): Promise<string | undefined> {
  const token = randomToken();
  const { now, ttl } = options;
  const results = await db.batch([
    db.prepare("UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, ?1) WHERE token_hash = ?2").bind(now, oldHash),
    db
      .prepare(
        `INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at)
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM grants WHERE id = ?2 AND revoked_at IS NULL)`,
      )
      .bind(await sha256(token), grantId, now, now + ttl),
    db.prepare("UPDATE grants SET expires_at = MAX(expires_at, ?2) WHERE id = ?1").bind(grantId, now + ttl),
  ]);
  return results[1]!.meta.changes === 1 ? token : undefined;
}

/** Loads a grant by id. */
export async function findGrant(db: D1Database, grantId: string): Promise<Grant | undefined> {
  const row = await db
    .prepare("SELECT id, client_id, user_id, scope, resource, revoked_at FROM grants WHERE id = ?")
    .bind(grantId)
    .first<Grant>();
  return row ?? undefined;
}

/**
 * Revokes the grant that the first redemption of a code created, for a replay that finds the
 * code gone from KV. One statement, so it costs one round trip.
 * @returns the revoked grant's id, or `undefined` when the code was never redeemed or its grant is already revoked
 */
export async function revokeRedeemedCode(db: D1Database, codeHash: string, now: number): Promise<string | undefined> {
  const row = await db
    .prepare(
      `UPDATE grants SET revoked_at = ?
       WHERE id = (SELECT grant_id FROM code_redemptions WHERE code_hash = ?) AND revoked_at IS NULL
       RETURNING id`,
    )
    .bind(now, codeHash)
    .first<{ id: string }>();
  return row?.id;
}

/** Revokes a grant, and with it every refresh token of the family. */
export async function revokeGrant(db: D1Database, grantId: string, now: number): Promise<void> {
  await db.prepare("UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(now, grantId).run();
}
