import { type Client, findClient } from "../clients.js";
import type { AppContext } from "../context.js";
import { OAuthError } from "../errors.js";
import { matchRedirectUri } from "../redirect-uri.js";

/** A validated authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636, and RFC 8707 resource). */
export interface AuthorizationRequest {
  client: Client;
  /** The redirect URI of the response: the registered URI the request named, or the only one registered. */
  redirectUri: string;
  /** Whether the request carried `redirect_uri`; if it did, the token request must repeat it. */
  redirectUriSent: boolean;
  state?: string;
  scope: string;
  resource: string;
  codeChallenge: string;
}

/** The destination of an authorization response: the client's redirect URI and the request's `state`. */
export interface RedirectTarget {
  redirectUri: string;
  state?: string;
}

/**
 * Finds the client and the redirect URI. An error here is shown to the user and never
 * redirected, because the redirect URI is not yet known to belong to the client (RFC 6749 §4.1.2.1).
 */
export async function resolveClient(
  c: AppContext,
  params: Map<string, string>,
): Promise<{ client: Client; target: RedirectTarget }> {
  const clientId = params.get("client_id");
  if (!clientId) throw new OAuthError("invalid_request", '"client_id" is missing.');

  const client = await findClient(c.env.DB, clientId);
  if (!client) throw new OAuthError("invalid_client", `No client is registered with client_id "${clientId}".`, { status: 400 });

  const requested = params.get("redirect_uri");
  const redirectUri = matchRedirectUri(client.metadata.redirect_uris, requested);
  if (!redirectUri) {
    const description =
      requested === undefined
        ? '"redirect_uri" is missing, and the client registered more than one redirect URI.'
        : `"redirect_uri" does not match a redirect URI registered by this client: ${requested}`;
    throw new OAuthError("invalid_request", description);
  }

  const state = params.get("state");
  return { client, target: state === undefined ? { redirectUri } : { redirectUri, state } };
}

// RFC 7636 §4.2: the S256 challenge is the base64url SHA-256 of the verifier: 43 characters.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Checks the rest of the request. Errors here are redirected to the client (RFC 6749 §4.1.2.1).
 * @throws {OAuthError}
 */
export function validateAuthorizationRequest(
  c: AppContext,
  client: Client,
  target: RedirectTarget,
  params: Map<string, string>,
): AuthorizationRequest {
  const { config } = c.var;

  const responseType = params.get("response_type");
  if (responseType === undefined) throw new OAuthError("invalid_request", '"response_type" is missing.');
  if (responseType !== "code") {
    throw new OAuthError("unsupported_response_type", `"response_type" must be "code", not "${responseType}".`);
  }
  if (!client.metadata.grant_types.includes("authorization_code")) {
    throw new OAuthError("unauthorized_client", "This client is not registered for the authorization_code grant.");
  }

  // OAuth 2.1 §4.1.1 requires PKCE; this server accepts only S256, which makes "plain" and an
  // absent method (which means "plain", RFC 7636 §4.3) errors.
  const codeChallenge = params.get("code_challenge");
  if (codeChallenge === undefined) throw new OAuthError("invalid_request", '"code_challenge" is missing; PKCE with S256 is required.');
  const method = params.get("code_challenge_method");
  if (method !== "S256") {
    throw new OAuthError("invalid_request", '"code_challenge_method" must be "S256"; "plain" is not supported.');
  }
  if (!S256_CHALLENGE.test(codeChallenge)) {
    throw new OAuthError("invalid_request", '"code_challenge" must be 43 base64url characters, the S256 hash of the verifier.');
  }

  const registeredScopes = client.metadata.scope.split(" ");
  const scope = params.get("scope") ?? client.metadata.scope;
  const unknown = scope.split(" ").filter((value) => !registeredScopes.includes(value));
  if (unknown.length > 0) {
    throw new OAuthError("invalid_scope", `"scope" contains values the client did not register: ${unknown.join(" ")}`);
  }

  const resource = params.get("resource") ?? config.RESOURCES[0]!;
  if (!config.RESOURCES.includes(resource)) {
    throw new OAuthError("invalid_target", `"resource" is not a protected resource of this server: ${resource}`);
  }

  const request: AuthorizationRequest = {
    client,
    redirectUri: target.redirectUri,
    redirectUriSent: params.has("redirect_uri"),
    scope,
    resource,
    codeChallenge,
  };
  if (target.state !== undefined) request.state = target.state;
  return request;
}

/**
 * Builds the redirect to the client with the response parameters, adding `iss` (RFC 9207 §2)
 * and `state` when the request had one.
 */
export function redirectToClient(c: AppContext, target: RedirectTarget, params: Record<string, string>): Response {
  const status = c.req.method === "GET" ? 302 : 303;
  return new Response(null, { status, headers: { Location: clientRedirectUrl(c, target, params), "Cache-Control": "no-store" } });
}

/** Builds the URL of an authorization response to the client: its parameters, `state` and `iss`. */
export function clientRedirectUrl(c: AppContext, target: RedirectTarget, params: Record<string, string>): string {
  const url = new URL(target.redirectUri);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  if (target.state !== undefined) url.searchParams.set("state", target.state);
  url.searchParams.set("iss", c.var.config.ISSUER);
  return url.href;
}
