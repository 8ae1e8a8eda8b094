import { Hono } from "hono";
import { authenticateClient } from "../client-auth.js";
import type { AppContext, AppEnv } from "../context.js";
import { OAuthError } from "../errors.js";
import { NO_STORE, readForm } from "../http.js";
import { findToken } from "../token/lookup.js";

/**
 * RFC 7662 §2: reports to a confidential client or resource server whether a token is active and
 * what it grants. Public clients are rejected, because anyone can claim their client_id. Registration
 * is open, so a client sees only its own tokens as active, unless its client_id is listed in
 * `INTROSPECTION_CLIENT_IDS`, the resource servers allowed to introspect any token (§2.1 and §4).
 */
async function introspect(c: AppContext) {
  const form = await readForm(c);
  const client = await authenticateClient(c, form);
  if (client.metadata.token_endpoint_auth_method === "none") {
    throw new OAuthError("invalid_client", "Introspection requires a client that authenticates with a secret.");
  }
  const token = form.get("token");
  if (!token) throw new OAuthError("invalid_request", '"token" is missing.');

  const now = c.var.now();
  const found = await findToken(c, token, form.get("token_type_hint"));
  const inactive = () => c.json({ active: false }, 200, NO_STORE);
  if (!found || found.grant.revoked_at !== null) return inactive();
  const mayIntrospect = found.grant.client_id === client.client_id || c.var.config.INTROSPECTION_CLIENT_IDS.includes(client.client_id);
  if (!mayIntrospect) return inactive();

  if (found.type === "access_token") {
    const { claims } = found;
    return c.json(
      {
        active: true,
        scope: claims.scope,
        client_id: claims.client_id,
        token_type: "Bearer",
        exp: claims.exp,
        iat: claims.iat,
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        jti: claims.jti,
      },
      200,
      NO_STORE,
    );
  }

  const expired = found.expiresAt <= now;
  const rotatedOut = found.rotatedAt !== null && now - found.rotatedAt > c.var.config.REFRESH_TOKEN_GRACE_PERIOD;
  if (expired || rotatedOut) return inactive();
  return c.json(
    {
      active: true,
      scope: found.grant.scope,
      client_id: found.grant.client_id,
      exp: found.expiresAt,
      sub: found.grant.user_id,
      aud: found.grant.resource,
      iss: c.var.config.ISSUER,
    },
    200,
    NO_STORE,
  );
}

export function introspectionRoutes(): Hono<AppEnv> {
  return new Hono<AppEnv>().post("/introspect", introspect);
}
