import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Config, loadConfig } from "./config.js";
import type { AppContext, AppEnv } from "./context.js";
import { oauthCors } from "./cors.js";
import type { Env } from "./env.js";
import { OAuthError, toOAuthError } from "./errors.js";
import { NO_STORE } from "./http.js";
import { authorizationRoutes } from "./authorization/routes.js";
import { developmentIdentity } from "./identity/development.js";
import { oidcIdentity } from "./identity/oidc.js";
import { introspectionRoutes } from "./introspection/routes.js";
import { jwksRoutes } from "./jwks.js";
import { issuerPath, metadataRoutes } from "./metadata/routes.js";
import { registrationRoutes } from "./registration/routes.js";
import { resourceMetadataRoutes } from "./resource/metadata.js";
import { mcpRoutes } from "./resource/proxy.js";
import { revocationRoutes } from "./revocation/routes.js";
import { tokenRoutes } from "./token/routes.js";

export interface AppOptions {
  /** Current time in whole seconds since the epoch. Tests pass their own clock. */
  now?: () => number;
}

/**
 * Turns an error into the JSON response of RFC 6749 §5.2. The request's log line is written once,
 * after the whole request, so an error replaced later (a 404 that becomes a 405) is logged once.
 */
export function errorResponse(c: AppContext, error: OAuthError): Response {
  c.set("error", error);
  return c.json(error.toJSON(), error.status as ContentfulStatusCode, { ...NO_STORE, ...error.headers });
}

/** Writes one structured JSON log line for each request that ended in an error. */
async function logFailures(c: AppContext, next: () => Promise<void>): Promise<void> {
  await next();
  const error = c.get("error");
  if (!error) return;

  const cause = error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : error.cause;
  console.log(
    JSON.stringify({
      level: error.status >= 500 ? "error" : "info",
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: error.status,
      error: error.code,
      error_description: error.description,
      ...(cause === undefined ? {} : { cause: String(cause) }),
      ...(error.status >= 500 && error.cause instanceof Error ? { stack: error.cause.stack } : {}),
    }),
  );
}

function buildApp(config: Config, now: () => number): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const base = issuerPath(config);
  const cors = oauthCors(config);
  const identity = config.IDENTITY_PROVIDER === "oidc" ? oidcIdentity(config, base) : developmentIdentity(base);

  app.use(requestId());
  app.use(logFailures);
  app.use(async (c, next) => {
    c.set("config", config);
    c.set("now", now);
    await next();
  });
  // The authorization endpoint and the upstream sign-in callback are top-level navigations that
  // carry the user's cookies, so they stay closed to cross-origin reads. MCP endpoints have CORS of
  // their own (resource/proxy.ts). Every other route is an API that browser clients call.
  const issuerOrigin = new URL(config.ISSUER).origin;
  const mcpResources = config.RESOURCES.filter((resource) => new URL(resource).origin === issuerOrigin);
  const mcpPaths = new Set(mcpResources.map((resource) => new URL(resource).pathname));
  const pagePrefixes = [`${base}/authorize`, `${base}/oidc/`];
  const isPage = (path: string) => pagePrefixes.some((prefix) => path.startsWith(prefix));
  app.use((c, next) => (isPage(c.req.path) || mcpPaths.has(c.req.path) ? next() : cors(c, next)));
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(
          c,
          new OAuthError("method_not_allowed", `${c.req.method} is not allowed here; use ${methods.join(", ")}.`, {
            headers: { Allow: methods.join(", ") },
          }),
        ),
    }),
  );
  app.use(
    bodyLimit({
      maxSize: config.MAX_REQUEST_BYTES,
      onError: () => {
        throw new OAuthError("invalid_request", `The request body must be at most ${config.MAX_REQUEST_BYTES} bytes.`, {
          status: 413,
        });
      },
    }),
  );

  app.route("/", metadataRoutes(config));
  app.route("/", resourceMetadataRoutes(config));
  for (const resource of mcpResources) app.route("/", mcpRoutes(config, resource, now));
  app.route(base || "/", jwksRoutes());
  app.route(base || "/", registrationRoutes());
  app.route(base || "/", authorizationRoutes(identity, base));
  app.route(base || "/", identity.routes());
  app.route(base || "/", tokenRoutes());
  app.route(base || "/", revocationRoutes());
  app.route(base || "/", introspectionRoutes());

  app.notFound((c) => errorResponse(c, new OAuthError("not_found", `No endpoint at ${c.req.path}.`)));
  app.onError((error, c) => errorResponse(c, toOAuthError(error)));
  return app;
}

/** Creates the Worker's fetch handler. The Hono app is built once per validated configuration. */
export function createApp(options: AppOptions = {}) {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const apps = new WeakMap<Config, Hono<AppEnv>>();

  return {
    fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
      const config = loadConfig(env);
      let app = apps.get(config);
      if (!app) {
        app = buildApp(config, now);
        apps.set(config, app);
      }
      return app.fetch(request, env, ctx);
    },
  };
}
