import type { AppContext } from "../context.js";
import { randomToken, sha256 } from "../crypto.js";
import type { AuthorizationRequest } from "./request.js";

/** The binding of an authorization code, stored in KV under `code:<SHA-256 of the code>`. */
export interface CodeRecord {
  client_id: string;
  redirect_uri: string;
  redirect_uri_sent: boolean;
  code_challenge: string;
  scope: string;
  resource: string;
  user_id: string;
  /** The user's display name, for the access token's `name` claim. */
  user_name?: string;
  issued_at: number;
  expires_at: number;
}

function codeKey(codeHash: string): string {
  return `code:${codeHash}`;
}

/**
 * Issues an authorization code for an approved request. KV's expiration deletes the entry
 * eventually, and the token endpoint checks `expires_at` itself, so expiry does not depend on when
 * KV deletes it. Single use is enforced in D1, not here (docs/storage.md).
 */
export async function issueCode(c: AppContext, request: AuthorizationRequest, user: { id: string; name?: string }): Promise<string> {
  const code = randomToken();
  const now = c.var.now();
  const ttl = c.var.config.AUTHORIZATION_CODE_TTL;
  const record: CodeRecord = {
    client_id: request.client.client_id,
    redirect_uri: request.redirectUri,
    redirect_uri_sent: request.redirectUriSent,
    code_challenge: request.codeChallenge,
    scope: request.scope,
    resource: request.resource,
    user_id: user.id,
    ...(user.name ? { user_name: user.name } : {}),
    issued_at: now,
    expires_at: now + ttl,
  };
  // KV rejects an expirationTtl under 60 seconds.
  await c.env.KV.put(codeKey(await sha256(code)), JSON.stringify(record), { expirationTtl: Math.max(ttl, 60) });
  return code;
}

/** Loads the record of a code by the code's hash, or `undefined` when KV has none. */
export async function findCode(c: AppContext, codeHash: string): Promise<CodeRecord | undefined> {
  const record = await c.env.KV.get<CodeRecord>(codeKey(codeHash), "json");
  return record ?? undefined;
}
