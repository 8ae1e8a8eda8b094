import { Hono } from "hono";
import type { Config } from "../config.js";
import type { AppEnv } from "../context.js";

const WELL_KNOWN = "/.well-known/oauth-protected-resource";

/**
 * Returns the metadata URL of a protected resource (RFC 9728 §3.1): the well-known path inserted between
 * the host and the resource's path, so `…/mcp` has `/.well-known/oauth-protected-resource/mcp`.
 */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}${WELL_KNOWN}${path}`;
}

/** Builds the protected resource metadata document of RFC 9728 §2. */
export function buildResourceMetadata(config: Config, resource: string) {
  return {
    resource,
    authorization_servers: [config.ISSUER],
    scopes_supported: config.SCOPES_SUPPORTED,
    bearer_methods_supported: ["header"],
  };
}

/**
 * Serves the metadata of every configured resource on the issuer's origin at its path-suffixed
 * URL, and the first one's also at the bare well-known URL, where clients look when the suffixed
 * form is missing. A resource on another origin publishes its own metadata.
 */
export function resourceMetadataRoutes(config: Config): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const headers = { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600" };
  const serve = (body: string) => () => new Response(body, { headers });
  const origin = new URL(config.ISSUER).origin;
  const local = config.RESOURCES.filter((resource) => new URL(resource).origin === origin);
  if (local.length === 0) return routes;

  for (const resource of local) {
    routes.get(new URL(resourceMetadataUrl(resource)).pathname, serve(JSON.stringify(buildResourceMetadata(config, resource))));
  }
  const bare = JSON.stringify(buildResourceMetadata(config, local[0]!));
  if (!routes.routes.some((route) => route.path === WELL_KNOWN)) routes.get(WELL_KNOWN, serve(bare));
  return routes;
}
