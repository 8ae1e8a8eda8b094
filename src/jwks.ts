import { Hono } from "hono";
import type { AppEnv } from "./context.js";
import { loadSigningKeys } from "./keys.js";

/** Creates the route that publishes the public signing keys as a JWK Set (RFC 7517 §5), the `jwks_uri`. */
export function jwksRoutes(): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/.well-known/jwks.json", async (c) => {
    const keys = await loadSigningKeys(c.env, c.var.config, c.var.now());
    return c.json(keys.jwks, 200, { "Cache-Control": "public, max-age=300" });
  });
}
