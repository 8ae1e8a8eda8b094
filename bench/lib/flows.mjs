// One full MCP client flow against each server: discovery, registration, authorization, code
// exchange, one MCP tool call and a refresh. A flow returns the time of each of its requests, so
// the runner can report per step and per request. Every request goes to the server's own URL.

import { createHash, randomBytes } from "node:crypto";

/** The steps of a flow, in order. */
export const STEPS = ["discovery", "registration", "authorization", "code exchange", "MCP call", "refresh"];

/** Maximum time one request may take before the flow fails, in milliseconds. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The user that signs in at this project's Worker; the anchor approves for a user of this id. */
export const USERNAME = "bench-user";

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

/** A flow that got an unexpected response; the message names the request and the status. */
export class FlowError extends Error {
  name = "FlowError";
}

function base64url(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

/** Creates a PKCE verifier and its S256 challenge (RFC 7636 §4.1 and §4.2). */
function pkce() {
  const verifier = base64url(randomBytes(32));
  return { verifier, challenge: base64url(createHash("sha256").update(verifier).digest()) };
}

/**
 * Sends one request and records its time, from sending it to the end of the body, under `step`
 * and `request`. `check` reads the response and returns what the flow continues with.
 */
async function timed(timings, step, request, url, init, check) {
  const started = performance.now();
  const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...init });
  const body = await response.text();
  timings.push({ step, request, ms: performance.now() - started });
  return check(response, body);
}

function expectStatus(response, body, request, ...statuses) {
  if (!statuses.includes(response.status)) {
    throw new FlowError(`${request}: expected HTTP ${statuses.join(" or ")}, got ${response.status}: ${body.slice(0, 300)}`);
  }
}

function json(response, body, request, ...statuses) {
  expectStatus(response, body, request, ...statuses);
  return JSON.parse(body);
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#x27": "'" };

function unescapeHtml(value) {
  return value.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, name) => ENTITIES[name]);
}

function attribute(tag, name) {
  const value = tag.match(new RegExp(`\\s${name}="([^"]*)"`))?.[1];
  return value === undefined ? undefined : unescapeHtml(value);
}

/**
 * Reads the first form of an HTML page as a browser submits it: its action and its hidden inputs.
 * The pages are this project's own, whose attributes are always double-quoted, so regular
 * expressions over the tags are enough.
 */
function parseForm(html, pageUrl, request) {
  const formTag = html.match(/<form\b[^>]*>/i)?.[0];
  if (!formTag) throw new FlowError(`${request}: the page has no form: ${html.slice(0, 300)}`);
  const action = new URL(attribute(formTag, "action") ?? "", pageUrl).href;
  const fields = new URLSearchParams();
  for (const [input] of html.matchAll(/<input\b[^>]*>/gi)) {
    if (attribute(input, "type") !== "hidden") continue;
    fields.append(attribute(input, "name"), attribute(input, "value") ?? "");
  }
  return { action, fields };
}

/** Returns the `Cookie` header that a browser sends back after this response. */
function cookieOf(response, request) {
  const setCookie = response.headers.getSetCookie();
  if (setCookie.length === 0) throw new FlowError(`${request}: no Set-Cookie header`);
  return setCookie.map((header) => header.split(";")[0]).join("; ");
}

/** Checks the redirect to the client (RFC 6749 §4.1.2, RFC 9207 §2) and returns the code. */
function authorizationCode(response, body, request, expected) {
  expectStatus(response, body, request, 302, 303);
  const location = new URL(response.headers.get("Location"));
  if (!location.href.startsWith(expected.redirectUri)) throw new FlowError(`${request}: redirected to ${location.href}, not to the client`);
  const code = location.searchParams.get("code");
  if (!code) throw new FlowError(`${request}: no code in ${location.href}`);
  if (location.searchParams.get("state") !== expected.state) throw new FlowError(`${request}: state differs in ${location.href}`);
  if (location.searchParams.get("iss") !== expected.issuer) throw new FlowError(`${request}: iss is not ${expected.issuer} in ${location.href}`);
  return code;
}

/** Reads a JSON-RPC result from a plain JSON or a `text/event-stream` response. */
function rpcResult(response, body, request) {
  expectStatus(response, body, request, 200);
  const type = response.headers.get("Content-Type") ?? "";
  const text = type.startsWith("text/event-stream")
    ? body
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5))
        .join("\n")
    : body;
  const message = JSON.parse(text);
  if (message.error) throw new FlowError(`${request}: JSON-RPC error ${JSON.stringify(message.error)}`);
  return message.result;
}

/** Fetches the metadata (RFC 8414 §3) and registers a public client (RFC 7591 §3.1). */
async function discoverAndRegister(timings, baseUrl, redirectUri) {
  const metadataUrl = `${baseUrl}/.well-known/oauth-authorization-server`;
  const metadata = await timed(timings, "discovery", "GET metadata", metadataUrl, {}, (response, body) =>
    json(response, body, "GET metadata", 200),
  );
  if (metadata.issuer !== baseUrl) throw new FlowError(`GET metadata: issuer ${metadata.issuer} is not ${baseUrl}`);

  const registration = {
    client_name: "Benchmark client",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    scope: "mcp",
  };
  const client = await timed(
    timings,
    "registration",
    "POST register",
    metadata.registration_endpoint,
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(registration) },
    (response, body) => json(response, body, "POST register", 201),
  );
  return { metadata, clientId: client.client_id };
}

function authorizationUrl(metadata, clientId, redirectUri, challenge, state, resource) {
  const params = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    scope: "mcp",
    resource,
  });
  return `${metadata.authorization_endpoint}?${params}`;
}

/** Exchanges the code, makes one MCP tool call with the access token, and refreshes. */
async function useTokens(timings, flow) {
  const { metadata, clientId, redirectUri, code, verifier, resource } = flow;
  const tokens = await timed(
    timings,
    "code exchange",
    "POST token (code)",
    metadata.token_endpoint,
    {
      method: "POST",
      headers: FORM,
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId, resource }),
    },
    (response, body) => json(response, body, "POST token (code)", 200),
  );
  if (!tokens.access_token || !tokens.refresh_token) throw new FlowError(`POST token (code): tokens missing in ${JSON.stringify(tokens)}`);

  // Neither MCP server needs an initialize first: the demo server is stateless (no session id),
  // and the anchor handles each JSON-RPC request on its own.
  const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } };
  const result = await timed(
    timings,
    "MCP call",
    "POST mcp (tools/call)",
    resource,
    {
      method: "POST",
      headers: { Authorization: `Bearer ${tokens.access_token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify(call),
    },
    (response, body) => rpcResult(response, body, "POST mcp (tools/call)"),
  );
  if (!JSON.stringify(result?.structuredContent ?? {}).includes(USERNAME)) {
    throw new FlowError(`POST mcp (tools/call): whoami did not return ${USERNAME}: ${JSON.stringify(result).slice(0, 300)}`);
  }

  const refreshed = await timed(
    timings,
    "refresh",
    "POST token (refresh)",
    metadata.token_endpoint,
    {
      method: "POST",
      headers: FORM,
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId, resource }),
    },
    (response, body) => json(response, body, "POST token (refresh)", 200),
  );
  if (!refreshed.access_token) throw new FlowError(`POST token (refresh): no access token in ${JSON.stringify(refreshed)}`);
}

/**
 * Runs one flow against this project's Worker for a user who is not signed in yet. Authorization
 * is what a browser does: the sign-in form, whose post returns the consent page with the session
 * cookie, and the approval with its CSRF token.
 */
export async function projectFlow(baseUrl, redirectUri) {
  const timings = [];
  const resource = `${baseUrl}/mcp`;
  const { metadata, clientId } = await discoverAndRegister(timings, baseUrl, redirectUri);
  const { verifier, challenge } = pkce();
  const state = base64url(randomBytes(16));
  const authorizeUrl = authorizationUrl(metadata, clientId, redirectUri, challenge, state, resource);

  const signIn = await timed(timings, "authorization", "GET authorize (sign-in page)", authorizeUrl, {}, (response, body) => {
    expectStatus(response, body, "GET authorize (sign-in page)", 200);
    return parseForm(body, authorizeUrl, "GET authorize (sign-in page)");
  });
  signIn.fields.set("username", USERNAME);
  // The sign-in post sets the session cookie and returns the consent page itself.
  const { consent, cookie } = await timed(
    timings,
    "authorization",
    "POST sign-in (consent page)",
    signIn.action,
    { method: "POST", headers: FORM, body: signIn.fields },
    (response, body) => {
      expectStatus(response, body, "POST sign-in (consent page)", 200);
      return { consent: parseForm(body, signIn.action, "POST sign-in (consent page)"), cookie: cookieOf(response, "POST sign-in") };
    },
  );
  if (!consent.fields.get("csrf_token")) throw new FlowError("POST sign-in (consent page): the form has no csrf_token");
  consent.fields.set("decision", "approve");
  const code = await timed(
    timings,
    "authorization",
    "POST authorize (approve)",
    consent.action,
    { method: "POST", headers: { ...FORM, Cookie: cookie }, body: consent.fields },
    (response, body) => authorizationCode(response, body, "POST authorize (approve)", { redirectUri, state, issuer: metadata.issuer }),
  );

  await useTokens(timings, { metadata, clientId, redirectUri, code, verifier, resource });
  return timings;
}

/** Runs one flow against the anchor, whose `/authorize` approves at once and redirects with the code. */
export async function anchorFlow(baseUrl, redirectUri) {
  const timings = [];
  const resource = `${baseUrl}/mcp`;
  const { metadata, clientId } = await discoverAndRegister(timings, baseUrl, redirectUri);
  const { verifier, challenge } = pkce();
  const state = base64url(randomBytes(16));
  const authorizeUrl = authorizationUrl(metadata, clientId, redirectUri, challenge, state, resource);

  const code = await timed(timings, "authorization", "GET authorize (approve)", authorizeUrl, {}, (response, body) =>
    authorizationCode(response, body, "GET authorize (approve)", { redirectUri, state, issuer: metadata.issuer }),
  );

  await useTokens(timings, { metadata, clientId, redirectUri, code, verifier, resource });
  return timings;
}
