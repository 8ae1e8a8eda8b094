import { randomToken } from "./crypto.js";

/** A local user, identified at an identity provider by `issuer` and `subject`. */
export interface User {
  id: string;
  issuer: string;
  subject: string;
  name?: string;
  email?: string;
}

/** Claims from an identity provider that name a user. */
export interface Identity {
  issuer: string;
  subject: string;
  name?: string;
  email?: string;
}

/** Finds or creates the local user for an identity and refreshes the stored profile claims. */
export async function upsertUser(db: D1Database, identity: Identity, now: number): Promise<User> {
  const row = await db
    .prepare(
      `INSERT INTO users (id, issuer, subject, name, email, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (issuer, subject) DO UPDATE SET name = excluded.name, email = excluded.email, updated_at = excluded.updated_at
       RETURNING id`,
    )
    .bind(randomToken(16), identity.issuer, identity.subject, identity.name ?? null, identity.email ?? null, now, now)
    .first<{ id: string }>();
  return { ...identity, id: row!.id };
}

/** Loads a user by local id. */
export async function findUser(db: D1Database, id: string): Promise<User | undefined> {
  const row = await db
    .prepare("SELECT id, issuer, subject, name, email FROM users WHERE id = ?")
    .bind(id)
    .first<{ id: string; issuer: string; subject: string; name: string | null; email: string | null }>();
  if (!row) return undefined;
  const user: User = { id: row.id, issuer: row.issuer, subject: row.subject };
  if (row.name !== null) user.name = row.name;
  if (row.email !== null) user.email = row.email;
  return user;
}
