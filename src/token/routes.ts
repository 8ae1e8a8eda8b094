import { Hono } from "hono";
import { findCode } from "../authorization/codes.js";
import { authenticateClient } from "../client-auth.js";
import type { Client } from "../clients.js";
import { type AppContext, type AppEnv, logEvent } from "../context.js";
import { sha256 } from "../crypto.js";
import { OAuthError } from "../errors.js";
import { findRefreshToken, redeemCode, revokeGrant, revokeRedeemedCode, rotateRefreshToken } from "../grants.js";
import { NO_STORE, readForm } from "../http.js";
import { loadSigningKeys } from "../keys.js";
import { type AccessTokenGrant, signAccessToken } from "./access-token.js";

/**
 * Creates the one error for every bad, expired, used or revoked code or refresh token, so a caller
 * learns nothing from it. The reason goes to the log as the cause (RFC 6749 §5.2).
 */
function invalidGrant(cause: string): OAuthError {
  return new OAuthError("invalid_grant", "The authorization grant is invalid, expired or revoked.", { cause });
}

function required(form: Map<string, string>, name: string): string {
  const value = form.get(name);
  if (value === undefined || value === "") throw new OAuthError("invalid_request", `"${name}" is missing.`);
  return value;
}

function requireGrantType(client: Client, grantType: "authorization_code" | "refresh_token"): void {
  if (!client.metadata.grant_types.includes(grantType)) {
    throw new OAuthError("unauthorized_client", `This client is not registered for the ${grantType} grant.`);
  }
}

// RFC 7636 §4.1: code_verifier = 43*128 unreserved characters.
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

async function tokenResponse(c: AppContext, grant: AccessTokenGrant, refreshToken: string | undefined) {
  const { config } = c.var;
  const keys = await loadSigningKeys(c.env, config, c.var.now());
  const accessToken = await signAccessToken(config, keys, grant, c.var.now());
  return c.json(
    {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: config.ACCESS_TOKEN_TTL,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope: grant.scope,
    },
    200,
    NO_STORE,
  );
}

/** RFC 6749 §4.1.3 with PKCE verification (RFC 7636 §4.6). */
async function authorizationCodeGrant(c: AppContext, client: Client, form: Map<string, string>) {
  requireGrantType(client, "authorization_code");
  const code = required(form, "code");
  const verifier = form.get("code_verifier");
  if (verifier === undefined) throw new OAuthError("invalid_request", '"code_verifier" is missing; PKCE is required.');

  const now = c.var.now();
  const codeHash = await sha256(code);
  const record = await findCode(c, codeHash);
  if (!record) {
    // The code may have been redeemed already and then expired from KV. A replay still revokes
    // what the first redemption issued.
    const revokedGrantId = await revokeRedeemedCode(c.env.DB, codeHash, now);
    if (revokedGrantId) logEvent(c, "authorization_code_replayed", { client_id: client.client_id, grant_id: revokedGrantId });
    throw invalidGrant("unknown authorization code");
  }
  if (record.expires_at <= now) throw invalidGrant("authorization code expired");
  if (record.client_id !== client.client_id) throw invalidGrant("authorization code was issued to another client");

  // RFC 6749 §4.1.3: redirect_uri is required if the authorization request had it, and must be identical.
  const redirectUri = form.get("redirect_uri");
  if (record.redirect_uri_sent ? redirectUri !== record.redirect_uri : redirectUri !== undefined && redirectUri !== record.redirect_uri) {
    throw invalidGrant("redirect_uri differs from the authorization request");
  }
  if (!CODE_VERIFIER.test(verifier) || (await sha256(verifier)) !== record.code_challenge) {
    throw invalidGrant("PKCE verification failed");
  }

  // RFC 8707 §2.2: a token request may name the resource again, but not another one.
  const resource = form.get("resource");
  if (resource !== undefined && resource !== record.resource) {
    throw new OAuthError("invalid_target", `"resource" must be the resource of the original grant: ${record.resource}`);
  }

  const grant = { clientId: client.client_id, userId: record.user_id, scope: record.scope, resource: record.resource };
  const name = record.user_name;
  const issueRefreshToken = client.metadata.grant_types.includes("refresh_token");
  const redemption = await redeemCode(c.env.DB, codeHash, grant, {
    now,
    codeExpiresAt: record.expires_at,
    expiresAt: now + Math.max(c.var.config.REFRESH_TOKEN_TTL, c.var.config.ACCESS_TOKEN_TTL),
    issueRefreshToken,
  });
  if (redemption.outcome === "replayed") {
    logEvent(c, "authorization_code_replayed", { client_id: client.client_id, grant_id: redemption.revokedGrantId });
    throw invalidGrant("authorization code already redeemed; its grant was revoked");
  }

  return tokenResponse(c, { grantId: redemption.grantId, ...grant, ...(name ? { name } : {}) }, redemption.refreshToken);
}

/** RFC 6749 §6 with rotation on every use and a grace window for retries of the same refresh. */
async function refreshTokenGrant(c: AppContext, client: Client, form: Map<string, string>) {
  requireGrantType(client, "refresh_token");
  const presented = required(form, "refresh_token");
  const { config } = c.var;
  const now = c.var.now();

  const tokenHash = await sha256(presented);
  const record = await findRefreshToken(c.env.DB, tokenHash);
  if (!record) throw invalidGrant("unknown refresh token");
  if (record.client_id !== client.client_id) throw invalidGrant("refresh token was issued to another client");
  if (record.revoked_at !== null) throw invalidGrant("grant revoked");
  if (record.expires_at <= now) throw invalidGrant("refresh token expired");

  // A rotated token still works inside the grace window, because clients retry and run in
  // several processes. After it, a presented rotated token means it leaked: revoke the family.
  if (record.rotated_at !== null && now - record.rotated_at > config.REFRESH_TOKEN_GRACE_PERIOD) {
    await revokeGrant(c.env.DB, record.grant_id, now);
    logEvent(c, "refresh_token_reused", { client_id: client.client_id, grant_id: record.grant_id });
    throw invalidGrant("rotated refresh token reused after the grace period; grant revoked");
  }

  // RFC 6749 §6: the requested scope "MUST NOT include any scope not originally granted".
  const grantedScopes = record.scope.split(" ");
  const scope = form.get("scope") ?? record.scope;
  const extra = scope.split(" ").filter((value) => !grantedScopes.includes(value));
  if (extra.length > 0) throw new OAuthError("invalid_scope", `"scope" exceeds the original grant: ${extra.join(" ")}`);
  const resource = form.get("resource") ?? record.resource;
  if (resource !== record.resource) {
    throw new OAuthError("invalid_target", `"resource" must be the resource of the original grant: ${record.resource}`);
  }

  const refreshToken = await rotateRefreshToken(c.env.DB, tokenHash, record.grant_id, { now, ttl: config.REFRESH_TOKEN_TTL });
  if (!refreshToken) throw invalidGrant("grant revoked during rotation");

  const grant = { grantId: record.grant_id, clientId: client.client_id, userId: record.user_id, scope, resource };
  return tokenResponse(c, record.user_name ? { ...grant, name: record.user_name } : grant, refreshToken);
}

async function token(c: AppContext) {
  const form = await readForm(c);
  const client = await authenticateClient(c, form);

  const grantType = required(form, "grant_type");
  if (grantType === "authorization_code") return authorizationCodeGrant(c, client, form);
  if (grantType === "refresh_token") return refreshTokenGrant(c, client, form);
  throw new OAuthError("unsupported_grant_type", `"grant_type" must be authorization_code or refresh_token, not "${grantType}".`);
}

/** Creates the routes of the token endpoint (RFC 6749 §3.2). */
export function tokenRoutes(): Hono<AppEnv> {
  return new Hono<AppEnv>().post("/token", token);
}
