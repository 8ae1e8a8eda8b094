import { createExecutionContext, env } from "cloudflare:test";
import { base64url, createLocalJWKSet, type JWTPayload, jwtVerify, type ProtectedHeaderParameters } from "jose";
import { expect } from "vitest";
import { createApp } from "../../src/app.js";

import { CLIENT_ORIGIN, ISSUER } from "./helpers.js";

// The constants and the JSON error check are shared with the registration and discovery tests.
export { CLIENT_ORIGIN, type ExpectedError, expectOAuthError, ISSUER } from "./helpers.js";

/** The protected resource that the server uses when a request names none. */
export const RESOURCE = `${ISSUER}/mcp`;


/** Time at which every test server's clock starts, in whole seconds since the epoch. */
export const START_TIME = 1_800_000_000;

/** The one `error_description` of every bad, expired, used or revoked code or refresh token. */
export const INVALID_GRANT = "The authorization grant is invalid, expired or revoked.";

/** The one `error_description` of every failed client authentication. */
export const CLIENT_AUTHENTICATION_FAILED = "Client authentication failed.";

/** A Worker built for one test, with a clock that the test sets. */
export interface TestServer {
  /** Current time of the server in whole seconds since the epoch. */
  clock: number;
  /** Moves the clock forward by `seconds`. */
  advance(seconds: number): void;
  /** Sends one request to the Worker; `path` is resolved against the issuer. */
  send(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * Builds a Worker with its own clock and the wrangler.toml variables overridden by `vars`. The
 * environment object is built once, so its configuration is parsed once for this server.
 */
export function startServer(vars: Record<string, unknown> = {}): TestServer {
  const serverEnv = { ...env, ...vars };
  const server: TestServer = {
    clock: START_TIME,
    advance(seconds) {
      server.clock += seconds;
    },
    async send(path, init = {}) {
      return app.fetch(new Request(new URL(path, ISSUER), init), serverEnv, createExecutionContext());
    },
  };
  const app = createApp({ now: () => server.clock });
  return server;
}

/** Client information response of RFC 7591 §3.2.1. */
export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  client_name?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: "none" | "client_secret_basic" | "client_secret_post";
  grant_types: string[];
  scope: string;
  [field: string]: unknown;
}

/** Registers a client with `body` (RFC 7591 §3.1) and returns its client information. */
export async function registerClient(server: TestServer, body: Record<string, unknown>): Promise<RegisteredClient> {
  const response = await server.send("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.status, text).toBe(201);
  return JSON.parse(text) as RegisteredClient;
}

/** Registration body of a public client with one loopback redirect URI and refresh tokens. */
export function publicClientBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_name: "Test agent",
    redirect_uris: ["http://127.0.0.1:3000/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    token_endpoint_auth_method: "none",
    ...overrides,
  };
}

/** Registration body of a confidential web client with one https redirect URI and refresh tokens. */
export function confidentialClientBody(
  method: "client_secret_basic" | "client_secret_post" = "client_secret_post",
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    client_name: "Test connector",
    redirect_uris: ["https://connector.test/oauth/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    token_endpoint_auth_method: method,
    ...overrides,
  };
}

/** A PKCE code verifier and its S256 code challenge (RFC 7636 §4.1 and §4.2). */
export interface Pkce {
  verifier: string;
  challenge: string;
}

/** Returns the base64url SHA-256 of `value`. */
export async function sha256Base64url(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return base64url.encode(new Uint8Array(digest));
}

/** Creates a random 43-character code verifier and its S256 challenge. */
export async function createPkce(): Promise<Pkce> {
  const verifier = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
  return { verifier, challenge: await sha256Base64url(verifier) };
}

/** Returns a random `state` value, as a client generates for each authorization request. */
export function randomState(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Builds the query of an authorization request (RFC 6749 §4.1.1) with PKCE and a random state.
 * An override replaces a parameter, and an override of `undefined` leaves the parameter out.
 */
export function authorizationQuery(
  client: RegisteredClient,
  challenge: string,
  overrides: Record<string, string | undefined> = {},
): URLSearchParams {
  const values: Record<string, string | undefined> = {
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0],
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: randomState(),
    ...overrides,
  };
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) query.set(name, value);
  }
  return query;
}

/** An HTML form as a browser submits it: its action and the named fields it contains. */
export interface HtmlForm {
  action: string;
  method: string;
  fields: [string, string][];
  /** Values of the submit buttons named `decision`. */
  decisions: string[];
}

/** Decodes the character references that an attribute value may contain. */
function decodeCharacterReferences(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (reference, name: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(Number.parseInt(lower.slice(1), 10));
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    return named[lower] ?? reference;
  });
}

/** Reads every form of an HTML page with workerd's HTMLRewriter, as a browser would see them. */
export async function readForms(html: string): Promise<HtmlForm[]> {
  const forms: HtmlForm[] = [];
  const attribute = (element: Element, name: string) => {
    const value = element.getAttribute(name);
    return value === null ? undefined : decodeCharacterReferences(value);
  };

  const rewriter = new HTMLRewriter()
    .on("form", {
      element(element) {
        forms.push({ action: attribute(element, "action") ?? "", method: attribute(element, "method") ?? "get", fields: [], decisions: [] });
      },
    })
    .on("form input", {
      element(element) {
        const name = attribute(element, "name");
        if (name !== undefined) forms.at(-1)!.fields.push([name, attribute(element, "value") ?? ""]);
      },
    })
    .on('form button[name="decision"]', {
      element(element) {
        forms.at(-1)!.decisions.push(attribute(element, "value") ?? "");
      },
    });
  await rewriter.transform(new Response(html)).text();
  return forms;
}

/** Escapes text the way the server's HTML templates do, to find it in a page. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const SESSION_COOKIE = "__Host-session";

/** Returns the `Set-Cookie` header of the session cookie, or `undefined` when the response sets none. */
export function sessionSetCookie(response: Response): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
}

/** The consent page as a signed-in user sees it. */
export interface ConsentPage {
  response: Response;
  html: string;
  form: HtmlForm;
}

/** A browser's session at the server after sign-in. */
export interface BrowserSession {
  /** `Cookie` request header that carries the session. */
  cookie: string;
  /** The authorization request the user signed in for; opened with the cookie, it shows consent. */
  location: string;
  /** The consent page, which the sign-in post returns directly. */
  consent: ConsentPage;
}

function postForm(server: TestServer, path: string, fields: Iterable<[string, string]>, headers: Record<string, string> = {}) {
  return server.send(path, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: ISSUER, ...headers },
    body: new URLSearchParams([...fields]),
  });
}

async function readConsent(response: Response): Promise<ConsentPage> {
  const html = await response.text();
  expect(response.status, html).toBe(200);
  const [form] = await readForms(html);
  expect(form?.decisions).toEqual(["approve", "deny"]);
  return { response, html, form: form! };
}

/**
 * Opens the authorization endpoint without a session and submits the sign-in form with `username`,
 * as a user would. Returns the session cookie and the consent page the sign-in post returns.
 */
export async function signIn(server: TestServer, query: URLSearchParams, username = "alice"): Promise<BrowserSession> {
  const page = await server.send(`/authorize?${query}`);
  const html = await page.text();
  expect(page.status, html || `Location: ${page.headers.get("Location")}`).toBe(200);
  const [form] = await readForms(html);
  expect(form?.action).toBe("/authorize/sign-in");

  const fields = form!.fields.filter(([name]) => name !== "username");
  fields.push(["username", username]);
  const response = await postForm(server, form!.action, fields);

  const setCookie = sessionSetCookie(response);
  expect(setCookie).toBeDefined();
  return { cookie: setCookie!.split(";")[0]!, location: `/authorize?${query}`, consent: await readConsent(response) };
}

/** Opens `path` (the authorization endpoint) with the session cookie and reads the consent form. */
export async function openConsent(server: TestServer, session: BrowserSession, path = session.location): Promise<ConsentPage> {
  return readConsent(await server.send(path, { headers: { Cookie: session.cookie } }));
}

/** Returns the value of the hidden `csrf_token` field of a form. */
export function csrfTokenOf(form: HtmlForm): string {
  const token = form.fields.find(([name]) => name === "csrf_token")?.[1];
  expect(token).toBeTruthy();
  return token!;
}

/**
 * Submits the consent form with `decision`, as the user clicking Approve or Deny. `fields` replaces
 * the form's fields when a test sends a changed form.
 */
export function submitConsent(
  server: TestServer,
  session: BrowserSession | undefined,
  form: HtmlForm,
  decision: "approve" | "deny",
  fields: [string, string][] = form.fields,
): Promise<Response> {
  return postForm(server, form.action, [...fields, ["decision", decision]], session ? { Cookie: session.cookie } : {});
}

/** The redirect back to the client after the user approved. */
export interface Authorization {
  /** The `Location` the browser is sent to, with `code`, `state` and `iss`. */
  location: URL;
  code: string;
  verifier: string;
  /** The query of the authorization request. */
  query: URLSearchParams;
}

/**
 * Runs the authorization endpoint the way a user does: opens it, signs in, approves the consent
 * page, and reads the code from the redirect to the client.
 */
export async function authorize(
  server: TestServer,
  client: RegisteredClient,
  overrides: Record<string, string | undefined> = {},
  username = "alice",
): Promise<Authorization> {
  const pkce = await createPkce();
  const query = authorizationQuery(client, pkce.challenge, overrides);
  const session = await signIn(server, query, username);
  const response = await submitConsent(server, session, session.consent.form, "approve");
  expect(response.status).toBe(303);

  const location = new URL(response.headers.get("Location")!);
  const code = location.searchParams.get("code");
  expect(code).toBeTruthy();
  return { location, code: code!, verifier: pkce.verifier, query };
}

/** Encodes a client credential for HTTP Basic as RFC 6749 §2.3.1 requires: form-urlencoded first. */
export function basicCredentials(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${btoa(`${encode(clientId)}:${encode(secret)}`)}`;
}

/**
 * Sends a form-encoded request to a client-authenticated endpoint (token, revocation, introspection)
 * from `CLIENT_ORIGIN`, authenticating as `client` with its registered method unless `method` names another.
 * A parameter of `undefined` is left out.
 */
export function clientRequest(
  server: TestServer,
  path: string,
  client: RegisteredClient,
  params: Record<string, string | undefined>,
  method: RegisteredClient["token_endpoint_auth_method"] = client.token_endpoint_auth_method,
): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded", Origin: CLIENT_ORIGIN };
  const form = new URLSearchParams();
  if (method === "client_secret_basic") {
    headers.Authorization = basicCredentials(client.client_id, client.client_secret ?? "");
  } else {
    form.set("client_id", client.client_id);
    if (method === "client_secret_post") form.set("client_secret", client.client_secret ?? "");
  }
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) form.set(name, value);
  }
  return server.send(path, { method: "POST", headers, body: form });
}

/** Redeems an authorization code at the token endpoint (RFC 6749 §4.1.3). */
export function exchangeCode(
  server: TestServer,
  client: RegisteredClient,
  authorization: Authorization,
  overrides: Record<string, string | undefined> = {},
): Promise<Response> {
  return clientRequest(server, "/token", client, {
    grant_type: "authorization_code",
    code: authorization.code,
    code_verifier: authorization.verifier,
    redirect_uri: authorization.query.get("redirect_uri") ?? undefined,
    ...overrides,
  });
}

/** Sends a refresh token request (RFC 6749 §6). */
export function refreshTokens(
  server: TestServer,
  client: RegisteredClient,
  refreshToken: string,
  extra: Record<string, string | undefined> = {},
): Promise<Response> {
  return clientRequest(server, "/token", client, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra });
}

/** Sends a revocation request (RFC 7009 §2.1). */
export function revokeToken(
  server: TestServer,
  client: RegisteredClient,
  token: string,
  extra: Record<string, string | undefined> = {},
): Promise<Response> {
  return clientRequest(server, "/revoke", client, { token, ...extra });
}

/** Sends an introspection request (RFC 7662 §2.1). */
export function introspectToken(
  server: TestServer,
  client: RegisteredClient,
  token: string,
  extra: Record<string, string | undefined> = {},
): Promise<Response> {
  return clientRequest(server, "/introspect", client, { token, ...extra });
}

/** Successful access token response (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

/** Reads a response that must be a successful token response. */
export async function readTokenResponse(response: Response): Promise<TokenResponse> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as TokenResponse;
}

/** Runs the whole authorization code flow for `client` and returns the token response. */
export async function issueTokens(
  server: TestServer,
  client: RegisteredClient,
  overrides: Record<string, string | undefined> = {},
): Promise<TokenResponse> {
  const authorization = await authorize(server, client, overrides);
  return readTokenResponse(await exchangeCode(server, client, authorization));
}

/** Fetches the server's published JWK Set (RFC 7517 §5). */
export async function fetchJwks(server: TestServer): Promise<{ keys: Record<string, unknown>[] }> {
  const response = await server.send("/.well-known/jwks.json");
  expect(response.status).toBe(200);
  return response.json();
}

/**
 * Verifies an access token against the JWK Set that the server publishes, at the server's clock.
 * @returns the verified claims and protected header
 */
export async function verifyAccessToken(
  server: TestServer,
  token: string,
): Promise<{ payload: JWTPayload; protectedHeader: ProtectedHeaderParameters }> {
  const jwks = createLocalJWKSet((await fetchJwks(server)) as Parameters<typeof createLocalJWKSet>[0]);
  return jwtVerify(token, jwks, { issuer: ISSUER, currentDate: new Date(server.clock * 1000) });
}

/** An error redirect of RFC 6749 §4.1.2.1 as a test expects it. */
export interface ExpectedRedirectError {
  /** 302 for a GET of the authorization endpoint, 303 after a form post. */
  status: 302 | 303;
  redirectUri: string;
  error: string;
  description: string;
  /** The request's `state`, which must come back unchanged; `undefined` when the request had none. */
  state: string | undefined;
}

/** Checks an error sent to the client's redirect URI, with `state` and `iss` (RFC 9207 §2). */
export function expectRedirectError(response: Response, expected: ExpectedRedirectError): void {
  expect(response.status).toBe(expected.status);
  const location = new URL(response.headers.get("Location")!);
  expect(location.href.split("?")[0]).toBe(expected.redirectUri.split("?")[0]);
  expect(location.searchParams.get("error")).toBe(expected.error);
  expect(location.searchParams.get("error_description")).toBe(expected.description);
  expect(location.searchParams.get("state")).toBe(expected.state ?? null);
  expect(location.searchParams.get("iss")).toBe(ISSUER);
  expect(location.searchParams.has("code")).toBe(false);
}

/** An error shown to the user instead of redirected, as a test expects it. */
export interface ExpectedErrorPage {
  status: number;
  error: string;
  description: string;
}

/** Checks an error page: HTML for the user, the code and description, and no redirect. */
export async function expectErrorPage(response: Response, expected: ExpectedErrorPage): Promise<void> {
  expect(response.status).toBe(expected.status);
  expect(response.headers.get("Location")).toBeNull();
  expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
  const html = await response.text();
  expect(html).toContain(`<p>${escapeHtml(expected.description)}</p>`);
  expect(html).toContain(`<code>${expected.error}</code>`);
}
