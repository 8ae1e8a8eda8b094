import { Hono } from "hono";
import { authenticateClient } from "../client-auth.js";
import { type AppContext, type AppEnv, logEvent } from "../context.js";
import { OAuthError } from "../errors.js";
import { revokeGrant } from "../grants.js";
import { NO_STORE, readForm } from "../http.js";
import { findToken } from "../token/lookup.js";

/**
 * RFC 7009 §2.1: revokes a token and the grant it belongs to, so the refresh tokens of the family
 * stop working and introspection reports its access tokens inactive. The response is 200 whether or
 * not the token was known (§2.2), so the endpoint reveals nothing about tokens of other clients.
 */
async function revoke(c: AppContext) {
  const form = await readForm(c);
  const client = await authenticateClient(c, form);
  const token = form.get("token");
  if (!token) throw new OAuthError("invalid_request", '"token" is missing.');

  const found = await findToken(c, token, form.get("token_type_hint"));
  if (found && found.grant.client_id === client.client_id && found.grant.revoked_at === null) {
    await revokeGrant(c.env.DB, found.grant.id, c.var.now());
    logEvent(c, "grant_revoked", { client_id: client.client_id, grant_id: found.grant.id, token_type: found.type });
  }
  return c.body(null, 200, NO_STORE);
}

export function revocationRoutes(): Hono<AppEnv> {
  return new Hono<AppEnv>().post("/revoke", revoke);
}
