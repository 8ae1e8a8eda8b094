import type { Context, MiddlewareHandler } from "hono";
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";
import { challenge } from "../www-authenticate.js";

/** The identity an access token grants, set on the Hono context as `auth` by `bearerAuth`. */
export interface BearerIdentity {
  subject: string;
  clientId: string;
  scopes: string[];
  name?: string;
  token: string;
  expiresAt: number;
}

export interface BearerOptions {
  /** The authorization server's issuer; `iss` must equal it. */
  issuer: string;
  /** This resource's URL; `aud` must contain it. */
  resource: string;
  /** URL of this resource's RFC 9728 metadata, sent in every challenge. */
  resourceMetadata: string;
  /** Scopes every request needs; a token without them gets 403 `insufficient_scope`. */
  requiredScopes?: string[];
  /**
   * Returns the keys that verify tokens. Defaults to the issuer's JWKS at
   * `<issuer>/.well-known/jwks.json`, fetched once and cached by jose's `createRemoteJWKSet`.
   */
  keys?: (c: Context) => JWTVerifyGetKey | Promise<JWTVerifyGetKey>;
  /** Current time in seconds; tests pass their own clock. */
  now?: () => number;
}

/** Hono environments that `bearerAuth` can run in: it sets the `auth` variable. */
export type BearerEnv = { Variables: { auth: BearerIdentity } };

function denied(status: 401 | 403, body: Record<string, string>, wwwAuthenticate: string): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", "WWW-Authenticate": wwwAuthenticate },
  });
}

/**
 * Hono middleware that verifies an RFC 9068 access token locally: signature, `typ`, `iss`, `aud`,
 * `exp` and the required scopes. It reads no storage and makes no network call once the keys are
 * cached. Failures follow RFC 6750 §3 and RFC 9728 §5.1: 401 with `resource_metadata` in the
 * challenge, `error="invalid_token"` when a token was sent, and 403 `insufficient_scope` naming the
 * scope to ask for (MCP step-up authorization).
 */
export function bearerAuth<E extends BearerEnv>(options: BearerOptions): MiddlewareHandler<E> {
  const requiredScopes = options.requiredScopes ?? [];
  const scope = requiredScopes.length ? requiredScopes.join(" ") : undefined;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const remote = options.keys ? undefined : createRemoteJWKSet(new URL(`${options.issuer}/.well-known/jwks.json`));
  const keys = options.keys ?? (() => remote!);

  return async (c, next) => {
    // RFC 6750 §3.1: a request without a Bearer token gets a challenge with no error code.
    const token = c.req.header("Authorization")?.match(/^Bearer +(\S+)$/i)?.[1];
    if (!token) {
      return denied(
        401,
        { error: "invalid_token", error_description: "An access token is required." },
        challenge("Bearer", { resource_metadata: options.resourceMetadata, scope }),
      );
    }

    let payload;
    try {
      ({ payload } = await jwtVerify(token, await keys(c), {
        issuer: options.issuer,
        audience: options.resource,
        typ: "at+jwt",
        algorithms: ["ES256"],
        currentDate: new Date(now() * 1000),
        requiredClaims: ["sub", "exp", "client_id"],
      }));
    } catch (error) {
      const description = "The access token is invalid, expired, or not for this resource.";
      console.log(JSON.stringify({ level: "info", event: "bearer_rejected", reason: String(error) }));
      return denied(
        401,
        { error: "invalid_token", error_description: description },
        challenge("Bearer", { error: "invalid_token", error_description: description, resource_metadata: options.resourceMetadata, scope }),
      );
    }

    const granted = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
    const missing = requiredScopes.filter((required) => !granted.includes(required));
    if (missing.length > 0) {
      const description = `The access token lacks the scope ${missing.join(" ")}.`;
      return denied(
        403,
        { error: "insufficient_scope", error_description: description },
        challenge("Bearer", {
          error: "insufficient_scope",
          error_description: description,
          scope: [...new Set([...granted, ...requiredScopes])].join(" "),
          resource_metadata: options.resourceMetadata,
        }),
      );
    }

    const identity: BearerIdentity = {
      subject: payload.sub!,
      clientId: String(payload.client_id),
      scopes: granted,
      token,
      expiresAt: payload.exp!,
    };
    if (typeof payload.name === "string") identity.name = payload.name;
    (c as unknown as Context<BearerEnv>).set("auth", identity);
    await next();
  };
}
