import type { ClientMetadata } from "./registration/metadata.js";

/** A registered client as stored in the `clients` table. */
export interface Client {
  client_id: string;
  client_id_issued_at: number;
  /** SHA-256 of the client secret; absent for public clients. */
  client_secret_hash?: string;
  /** 0 when the secret never expires (RFC 7591 §3.2.1). */
  client_secret_expires_at: number;
  registration_access_token_hash: string;
  metadata: ClientMetadata;
}

interface ClientRow {
  client_id: string;
  client_id_issued_at: number;
  client_secret_hash: string | null;
  client_secret_expires_at: number;
  registration_access_token_hash: string;
  metadata: string;
}

function fromRow(row: ClientRow): Client {
  const client: Client = {
    client_id: row.client_id,
    client_id_issued_at: row.client_id_issued_at,
    client_secret_expires_at: row.client_secret_expires_at,
    registration_access_token_hash: row.registration_access_token_hash,
    metadata: JSON.parse(row.metadata) as ClientMetadata,
  };
  if (row.client_secret_hash !== null) client.client_secret_hash = row.client_secret_hash;
  return client;
}

/** Loads a client by `client_id`, or returns `undefined` when none is registered. */
export async function findClient(db: D1Database, clientId: string): Promise<Client | undefined> {
  const row = await db.prepare("SELECT * FROM clients WHERE client_id = ?").bind(clientId).first<ClientRow>();
  return row ? fromRow(row) : undefined;
}

/** Inserts a new client. */
export async function insertClient(db: D1Database, client: Client, now: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO clients (client_id, client_id_issued_at, client_secret_hash, client_secret_expires_at,
         registration_access_token_hash, metadata, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      client.client_id,
      client.client_id_issued_at,
      client.client_secret_hash ?? null,
      client.client_secret_expires_at,
      client.registration_access_token_hash,
      JSON.stringify(client.metadata),
      now,
    )
    .run();
}

/** Replaces a client's metadata, secret and registration access token (RFC 7592 §2.2). */
export async function updateClient(db: D1Database, client: Client, now: number): Promise<void> {
  await db
    .prepare(
      `UPDATE clients SET client_secret_hash = ?, client_secret_expires_at = ?, registration_access_token_hash = ?,
         metadata = ?, updated_at = ?
       WHERE client_id = ?`,
    )
    .bind(
      client.client_secret_hash ?? null,
      client.client_secret_expires_at,
      client.registration_access_token_hash,
      JSON.stringify(client.metadata),
      now,
      client.client_id,
    )
    .run();
}

/** Deletes a client and everything issued to it (RFC 7592 §2.3). */
export async function deleteClient(db: D1Database, clientId: string): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE client_id = ?)").bind(clientId),
    db.prepare("DELETE FROM grants WHERE client_id = ?").bind(clientId),
    db.prepare("DELETE FROM consents WHERE client_id = ?").bind(clientId),
    db.prepare("DELETE FROM clients WHERE client_id = ?").bind(clientId),
  ]);
}
