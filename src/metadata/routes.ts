import { Hono } from "hono";
import type { Config } from "../config.js";
import type { AppEnv } from "../context.js";
import { AUTH_METHODS } from "../registration/metadata.js";

/** Path of the issuer URL, such as "/tenant", or "" when the issuer has none. */
export function issuerPath(config: Config): string {
  return new URL(config.ISSUER).pathname.replace(/\/$/, "");
}

/**
 * Builds the authorization server metadata document (RFC 8414 §2). It lists only what this
 * server implements, and every URL starts with the issuer string, byte for byte.
 */
export function buildMetadata(config: Config) {
  const issuer = config.ISSUER;
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    scopes_supported: config.SCOPES_SUPPORTED,
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter((method) => method !== "none"),
    code_challenge_methods_supported: ["S256"],
    authorization_response_iss_parameter_supported: true,
  };
}

/** RFC 8414 §3: the metadata at the well-known URI, and at the path-inserted form when the issuer has a path. */
export function metadataRoutes(config: Config): Hono<AppEnv> {
  const body = JSON.stringify(buildMetadata(config));
  const headers = { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600" };
  const serve = () => new Response(body, { headers });

  const routes = new Hono<AppEnv>().get("/.well-known/oauth-authorization-server", serve);
  const path = issuerPath(config);
  if (path) routes.get(`/.well-known/oauth-authorization-server${path}`, serve);
  return routes;
}
