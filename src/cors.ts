import { cors } from "hono/cors";
import type { Config } from "./config.js";

/**
 * CORS for the OAuth and discovery routes, built once per configuration. Browser MCP clients call
 * these routes cross-origin, so every response, errors included, must carry the headers.
 * `MCP-Protocol-Version` is allowed because MCP clients send it on discovery.
 */
export function oauthCors(config: Config) {
  const origins = config.CORS_ALLOWED_ORIGINS;
  return cors({
    origin: origins.includes("*") ? "*" : origins,
    allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "Accept", "MCP-Protocol-Version"],
    exposeHeaders: ["WWW-Authenticate"],
    credentials: config.CORS_ALLOW_CREDENTIALS,
    maxAge: 86400,
  });
}
