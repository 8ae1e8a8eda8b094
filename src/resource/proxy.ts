import { Hono } from "hono";
import { cors } from "hono/cors";
import { SignJWT } from "jose";
import type { Config } from "../config.js";
import type { AppContext, AppEnv } from "../context.js";
import { randomToken } from "../crypto.js";
import { OAuthError } from "../errors.js";
import { loadSigningKeys, SIGNING_ALGORITHM } from "../keys.js";
import { keySetOf } from "../token/access-token.js";
import { type BearerIdentity, bearerAuth } from "./bearer.js";
import { resourceMetadataUrl } from "./metadata.js";
import { originAllowed } from "./origin.js";

/**
 * Headers that carry the caller's identity to the MCP server. The proxy sets them and removes
 * any a client sent, so the MCP server can trust them over a service binding.
 */
export const IDENTITY_HEADERS = {
  subject: "MCP-Auth-Subject",
  clientId: "MCP-Auth-Client-Id",
  scope: "MCP-Auth-Scope",
  name: "MCP-Auth-Name",
  /** A JWT signed by this server, for an MCP server reached by URL, which cannot trust bare headers. */
  assertion: "MCP-Auth-Assertion",
} as const;

/** Lifetime of the identity assertion sent to a URL upstream, in seconds. */
const ASSERTION_TTL = 60;

/** Request headers never forwarded: the caller's credentials, and anything claiming an identity. */
function forwardedHeaders(request: Request): Headers {
  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) {
    if (name.startsWith("mcp-auth-")) headers.delete(name);
  }
  // MCP security best practices: the client's access token is never passed through.
  headers.delete("Authorization");
  headers.delete("Cookie");
  headers.delete("Host");
  return headers;
}

async function signAssertion(c: AppContext, identity: BearerIdentity, audience: string): Promise<string> {
  const keys = await loadSigningKeys(c.env, c.var.config, c.var.now());
  const now = c.var.now();
  return new SignJWT({ client_id: identity.clientId, scope: identity.scopes.join(" "), ...(identity.name ? { name: identity.name } : {}) })
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, typ: "mcp-identity+jwt", kid: keys.kid })
    .setIssuer(c.var.config.ISSUER)
    .setSubject(identity.subject)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_TTL)
    .setJti(randomToken(12))
    .sign(keys.privateKey);
}

/** Forwards an authorized request to the MCP server and streams its response back unbuffered. */
async function forward(c: AppContext): Promise<Response> {
  const identity = c.get("auth")!;
  const { config } = c.var;
  const incoming = new URL(c.req.url);
  const headers = forwardedHeaders(c.req.raw);

  headers.set(IDENTITY_HEADERS.subject, identity.subject);
  headers.set(IDENTITY_HEADERS.clientId, identity.clientId);
  headers.set(IDENTITY_HEADERS.scope, identity.scopes.join(" "));
  if (identity.name) headers.set(IDENTITY_HEADERS.name, encodeURIComponent(identity.name));

  // A configured URL wins, so an operator can point /mcp elsewhere without editing the binding.
  let target: URL;
  let send: (request: Request) => Promise<Response>;
  const binding = c.env.MCP_SERVER as Fetcher | undefined;
  if (config.MCP_UPSTREAM_URL) {
    target = new URL(config.MCP_UPSTREAM_URL);
    target.search = incoming.search;
    headers.set(IDENTITY_HEADERS.assertion, await signAssertion(c, identity, target.origin));
    send = (request) => fetch(request);
  } else if (binding) {
    target = new URL(incoming.pathname + incoming.search, "https://mcp-server.internal");
    send = (request) => binding.fetch(request);
  } else {
    throw new OAuthError("server_error", "No MCP server is configured.", {
      cause: 'set the variable "MCP_UPSTREAM_URL" or the service binding "MCP_SERVER"',
    });
  }

  const method = c.req.method;
  const hasBody = method !== "GET" && method !== "HEAD";
  const upstream = await send(
    new Request(target, {
      method,
      headers,
      body: hasBody ? c.req.raw.body : null,
      redirect: "manual",
      signal: c.req.raw.signal,
    }),
  );
  // A new Response with the same body stream keeps streaming and makes the headers mutable for CORS.
  return new Response(upstream.body, upstream);
}

/**
 * Creates the protected MCP endpoint: CORS and Origin validation as the MCP Streamable HTTP transport
 * requires, bearer verification, then the proxy.
 */
export function mcpRoutes(config: Config, resource: string, now: () => number): Hono<AppEnv> {
  const path = new URL(resource).pathname;
  const allowed = [...config.MCP_ALLOWED_ORIGINS, new URL(config.ISSUER).origin];
  const verify = bearerAuth({
    issuer: config.ISSUER,
    resource,
    resourceMetadata: resourceMetadataUrl(resource),
    requiredScopes: config.MCP_REQUIRED_SCOPES,
    now,
    // The server's own keys, already in memory: no JWKS fetch and no storage read per request.
    keys: async (c) => keySetOf(await loadSigningKeys(c.env, config, now())),
  });

  const routes = new Hono<AppEnv>();
  routes.use(
    path,
    cors({
      origin: (origin) => (originAllowed(allowed, origin) ? origin : null),
      allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "Content-Type", "Accept", "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID"],
      exposeHeaders: ["WWW-Authenticate", "Mcp-Session-Id", "MCP-Protocol-Version"],
      maxAge: 86400,
    }),
  );
  // MCP Streamable HTTP transport: servers "MUST validate the Origin header on all incoming
  // connections to prevent DNS rebinding attacks"; an invalid one gets 403.
  routes.use(path, async (c, next) => {
    const origin = c.req.header("Origin");
    if (origin !== undefined && !originAllowed(allowed, origin)) {
      throw new OAuthError("access_denied", `Origin ${origin} is not allowed to call this MCP server.`, { status: 403 });
    }
    await next();
  });
  routes.on(["GET", "POST", "DELETE"], path, verify, forward);
  return routes;
}
