import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { launchBrowser } from "./helpers/browser.js";
import { clickAndWaitForDocument, type DocumentView, followReturnLink, openDocument, returnLink, STEP_TIMEOUT_MS } from "./helpers/oidc-browser.js";
import { type AuthorizationStart, authorizationRequest, type RegisteredClient, registerClient } from "./helpers/oidc-client.js";
import { type IdTokenFlaw, type MockProvider, startMockProvider } from "./helpers/oidc-mock.js";
import { type LogLine, startOidcWorker, waitForLogLine } from "./helpers/oidc-worker.js";
import { type PageServer, servePages } from "./helpers/page-server.js";
import { freePort, type WorkerServer } from "./helpers/server.js";

const UPSTREAM_CLIENT_ID = "mcp-oauth-edge";
const UPSTREAM_CLIENT_SECRET = "mock-client-secret";
const CLIENT_NAME = "Failure Test Client";

const CALLBACK_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Client callback</title>
<p>The client received the authorization response.</p>
`;

const START_AGAIN = "Start the sign-in again from the application.";
/** Seconds the user has to finish signing in upstream after approving, as src/identity/oidc.ts sets. */
const TRANSACTION_TTL = 600;

let mock: MockProvider;
let worker: WorkerServer;
/** A second Worker whose OIDC_ISSUER is a loopback port that nothing listens on. */
let unreachableWorker: WorkerServer;
let browser: Browser;
let clientPages: PageServer;
let client: RegisteredClient;

beforeAll(async () => {
  mock = await startMockProvider({ clientId: UPSTREAM_CLIENT_ID, clientSecret: UPSTREAM_CLIENT_SECRET });
  clientPages = await servePages({ "/callback": CALLBACK_PAGE }, { hostname: "127.0.0.1" });
  const closedPort = await freePort();
  const upstream = { clientId: UPSTREAM_CLIENT_ID, clientSecret: UPSTREAM_CLIENT_SECRET };

  [worker, unreachableWorker, browser] = await Promise.all([
    startOidcWorker({ ...upstream, issuer: mock.issuer, vars: { OIDC_ALLOWED_EMAIL_DOMAINS: ["example.com"] } }),
    startOidcWorker({ ...upstream, issuer: `http://127.0.0.1:${closedPort}` }),
    launchBrowser(),
  ]);
  mock.redirectUri = `${worker.url}/oidc/callback`;
  client = await registerClient(worker.url, `${clientPages.origin}/callback`, CLIENT_NAME);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([worker?.stop(), unreachableWorker?.stop(), mock?.close(), clientPages?.close()]);
});

let context: BrowserContext;
let page: Page;

beforeEach(async () => {
  mock.reset();
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
});

afterEach(async () => {
  await context?.close();
});

/** Opens the authorization request, checks that the consent page names the client, and clicks `button`. */
async function decideOnConsentPage(start: AuthorizationStart, button: "Approve" | "Deny"): Promise<DocumentView> {
  const consent = await openDocument(page, start.url);
  expect(consent.status).toBe(200);
  expect(consent.text).toContain(`Allow ${CLIENT_NAME} to access your account?`);
  return clickAndWaitForDocument(page, page.getByRole("button", { name: button }));
}

/** Counts the requests that the client's redirect URI has received so far. */
function clientRequestCount(): number {
  return clientPages.requests.length;
}

/** Checks an error response at the client's redirect URI (RFC 6749 §4.1.2.1, RFC 9207 `iss`). */
function expectClientError(received: URL, start: AuthorizationStart, issuer: string, error: string, description: string): void {
  expect(received.origin + received.pathname).toBe(client.redirectUri);
  expect(received.searchParams.get("error")).toBe(error);
  expect(received.searchParams.get("error_description")).toBe(description);
  expect(received.searchParams.get("state")).toBe(start.state);
  expect(received.searchParams.get("iss")).toBe(issuer);
  expect(received.searchParams.has("code")).toBe(false);
}

/** Checks the error page of the Worker at `issuer`: HTTP status, the description, and the error code. */
function expectErrorPage(view: DocumentView, status: number, error: string, description: string, issuer = worker.url): void {
  expect(view.url.origin, `the browser ended at ${view.url.href}`).toBe(issuer);
  expect(view.status).toBe(status);
  expect(view.text).toContain("This sign-in request cannot continue");
  expect(view.text).toContain(description);
  expect(view.text).toContain(`Error code: ${error}.`);
}

function logOf(server: WorkerServer, view: DocumentView, event: string): Promise<LogLine> {
  expect(view.requestId).toBeTypeOf("string");
  return waitForLogLine(server, (line) => line.event === event && line.requestId === view.requestId);
}

describe("OpenID Connect sign-in with a mock provider", () => {
  it("returns a code after upstream sign-in", async () => {
    const start = authorizationRequest(worker.url, client);

    const landed = await decideOnConsentPage(start, "Approve");

    expect(landed.url.origin + landed.url.pathname).toBe(client.redirectUri);
    expect(landed.url.searchParams.get("code")).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(landed.url.searchParams.get("state")).toBe(start.state);
    expect(landed.url.searchParams.get("iss")).toBe(worker.url);
    expect(mock.tokenRequests).toHaveLength(1);
    expect(mock.tokenRequests[0]).toMatchObject({ authenticatedClientId: UPSTREAM_CLIENT_ID, pkceVerified: true, status: 200 });

    const token = await fetch(`${worker.url}/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: landed.url.searchParams.get("code")!,
        redirect_uri: client.redirectUri,
        client_id: client.clientId,
        code_verifier: start.codeVerifier,
      }),
    });
    expect(token.status).toBe(200);
    expect(await token.json()).toMatchObject({ token_type: "Bearer", scope: "mcp" });
  });

  it("sends an OpenID Connect request upstream", async () => {
    await decideOnConsentPage(authorizationRequest(worker.url, client), "Approve");

    expect(mock.authorizationRequests).toHaveLength(1);
    const sent = mock.authorizationRequests[0]!;
    expect(sent).toMatchObject({
      response_type: "code",
      client_id: UPSTREAM_CLIENT_ID,
      redirect_uri: `${worker.url}/oidc/callback`,
      scope: "openid profile email",
      code_challenge_method: "S256",
    });
    expect(sent.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sent.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sent.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("OpenID Connect sign-in failures", () => {
  it("denial on consent page reaches client", async () => {
    const start = authorizationRequest(worker.url, client);

    const landed = await decideOnConsentPage(start, "Deny");

    expectClientError(landed.url, start, worker.url, "access_denied", "The user denied the request.");
    expect(mock.authorizationRequests).toHaveLength(0);
    const logged = await waitForLogLine(worker, (line) => line.path === "/authorize/upstream" && line.error === "access_denied");
    expect(logged).toMatchObject({ status: 403, error_description: "The user denied the request." });
  });

  it.each([
    {
      upstreamError: "server_error",
      clientError: "server_error",
      description: "The identity provider reported an error during sign-in.",
    },
    {
      upstreamError: "access_denied",
      clientError: "access_denied",
      description: "Sign-in was cancelled at the identity provider.",
    },
  ])("upstream $upstreamError reaches client", async ({ upstreamError, clientError, description }) => {
    mock.behaviour.authorizationError = upstreamError;
    const start = authorizationRequest(worker.url, client);
    const requestsBefore = clientRequestCount();

    const errorView = await decideOnConsentPage(start, "Approve");

    expectErrorPage(errorView, 400, clientError, description);
    expect(clientRequestCount()).toBe(requestsBefore);
    expect(mock.tokenRequests).toHaveLength(0);
    expectClientError(await followReturnLink(page), start, worker.url, clientError, description);
    const logged = await logOf(worker, errorView, "upstream_sign_in_failed");
    expect(logged).toMatchObject({
      client_id: client.clientId,
      reason: `upstream error ${upstreamError}: The mock provider returned ${upstreamError}.`,
    });
  });

  it("rejects a tampered state", async () => {
    mock.behaviour.tamperState = true;
    const requestsBefore = clientRequestCount();

    const errorView = await decideOnConsentPage(authorizationRequest(worker.url, client), "Approve");

    expectErrorPage(errorView, 400, "invalid_request", `This sign-in response is unknown or expired. ${START_AGAIN}`);
    expect(await returnLink(page).count()).toBe(0);
    expect(clientRequestCount()).toBe(requestsBefore);
    expect(mock.tokenRequests).toHaveLength(0);
    expect(await logOf(worker, errorView, "upstream_callback_rejected")).toMatchObject({ reason: "unknown state" });
  });

  it("rejects a callback in another browser", async () => {
    mock.behaviour.holdCallback = true;
    const start = authorizationRequest(worker.url, client);
    const providerView = await decideOnConsentPage(start, "Approve");
    expect(providerView.text).toContain("Signed in.");
    const callback = mock.callbacks[0]!;
    const requestsBefore = clientRequestCount();

    const otherContext = await browser.newContext();
    try {
      const otherPage = await otherContext.newPage();
      const errorView = await openDocument(otherPage, callback);

      expectErrorPage(errorView, 400, "invalid_request", `This sign-in response was started in another browser. ${START_AGAIN}`);
      expect(await returnLink(otherPage).count()).toBe(0);
      expect(clientRequestCount()).toBe(requestsBefore);
      expect(mock.tokenRequests).toHaveLength(0);
      expect(await logOf(worker, errorView, "upstream_callback_rejected")).toMatchObject({ reason: "state does not belong to this browser" });
    } finally {
      await otherContext.close();
    }

    // The rejected attempt must not use up the transaction of the browser that started it.
    const landed = await clickAndWaitForDocument(page, page.getByRole("link", { name: "Continue" }));
    expect(landed.url.origin + landed.url.pathname).toBe(client.redirectUri);
    expect(landed.url.searchParams.get("code")).toBeTruthy();
    expect(landed.url.searchParams.get("state")).toBe(start.state);
  });

  it("rejects a replayed callback", async () => {
    const first = await decideOnConsentPage(authorizationRequest(worker.url, client), "Approve");
    expect(first.url.searchParams.get("code")).toBeTruthy();
    const requestsBefore = clientRequestCount();

    const errorView = await openDocument(page, mock.callbacks[0]!);

    expectErrorPage(errorView, 400, "invalid_request", `This sign-in response was already used. ${START_AGAIN}`);
    expect(await returnLink(page).count()).toBe(0);
    expect(clientRequestCount()).toBe(requestsBefore);
    expect(mock.tokenRequests).toHaveLength(1);
    expect(await logOf(worker, errorView, "upstream_callback_rejected")).toMatchObject({ reason: "callback replayed" });
  });

  it("keeps the browser binding as long as the transaction", async () => {
    mock.behaviour.holdCallback = true;
    const bindingExpiry = async () => (await context.cookies(worker.url)).find((cookie) => cookie.name === "__Host-upstream")?.expires;
    await openDocument(page, authorizationRequest(worker.url, client).url);
    const expiryAtConsent = await bindingExpiry();
    // The user reads the consent page for two seconds. After ten minutes the callback would fail
    // with "started in another browser" although the transaction has not expired.
    await sleep(2000);

    const approvedAt = Date.now() / 1000;
    const providerView = await clickAndWaitForDocument(page, page.getByRole("button", { name: "Approve" }));
    expect(providerView.text).toContain("Signed in.");

    // The callback needs the cookie, and the transaction started at approval has ten minutes.
    const expiryAtApproval = await bindingExpiry();
    expect(expiryAtConsent).toBeGreaterThan(approvedAt);
    expect(expiryAtApproval, "the cookie must not expire before the transaction does").toBeGreaterThanOrEqual(
      approvedAt + TRANSACTION_TTL - 1,
    );
  });

  it.each<{ flaw: IdTokenFlaw; reason: RegExp }>([
    { flaw: "wrong-nonce", reason: /ID token nonce does not match the transaction/ },
    { flaw: "expired", reason: /^UpstreamError: ID token rejected: JWTExpired: "exp" claim timestamp check failed/ },
    { flaw: "unknown-key", reason: /^UpstreamError: ID token rejected: JWSSignatureVerificationFailed/ },
    { flaw: "wrong-audience", reason: /^UpstreamError: ID token rejected: JWTClaimValidationFailed: unexpected "aud" claim value/ },
    { flaw: "hs256", reason: /^UpstreamError: ID token rejected: JOSEAlgNotAllowed/ },
  ])("rejects an ID token with $flaw", async ({ flaw, reason }) => {
    mock.behaviour.idTokenFlaw = flaw;
    const start = authorizationRequest(worker.url, client);
    const description = "The sign-in at the identity provider could not be verified.";

    const errorView = await decideOnConsentPage(start, "Approve");

    expectErrorPage(errorView, 400, "server_error", description);
    expect(mock.tokenRequests).toHaveLength(1);
    expectClientError(await followReturnLink(page), start, worker.url, "server_error", description);
    const logged = await logOf(worker, errorView, "upstream_sign_in_failed");
    expect(logged.client_id).toBe(client.clientId);
    expect(logged.reason).toMatch(reason);
  });

  it("reports a failing token endpoint", async () => {
    mock.behaviour.tokenEndpointStatus = 500;
    const start = authorizationRequest(worker.url, client);
    const description = "The identity provider is unavailable. Try again later.";

    const errorView = await decideOnConsentPage(start, "Approve");

    expectErrorPage(errorView, 503, "temporarily_unavailable", description);
    expectClientError(await followReturnLink(page), start, worker.url, "temporarily_unavailable", description);
    const logged = await logOf(worker, errorView, "upstream_sign_in_failed");
    expect(logged.reason).toBe("UpstreamError: token endpoint returned HTTP 500 server_error");
  });

  it("reports an unreachable provider", async () => {
    const unreachableClient = await registerClient(unreachableWorker.url, client.redirectUri, CLIENT_NAME);
    const start = authorizationRequest(unreachableWorker.url, unreachableClient);
    const description = "The identity provider is unavailable. Try again later.";

    const errorView = await decideOnConsentPage(start, "Approve");

    expectErrorPage(errorView, 503, "temporarily_unavailable", description, unreachableWorker.url);
    expectClientError(await followReturnLink(page), start, unreachableWorker.url, "temporarily_unavailable", description);
    const logged = await logOf(unreachableWorker, errorView, "upstream_sign_in_failed");
    expect(logged.client_id).toBe(unreachableClient.clientId);
    expect(logged.reason).toMatch(/^UpstreamError: request to http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration failed/);
  });

  it.each([
    { account: "outside the allowed domain", claims: { sub: "mallory", name: "Mallory", email: "mallory@example.org", email_verified: true } },
    { account: "with an unverified email", claims: { sub: "eve", name: "Eve", email: "eve@example.com", email_verified: false } },
    {
      // The domain is what follows the last "@": a quoted local part may contain "@" (RFC 5321 §4.1.2).
      account: "whose quoted local part names the domain",
      claims: { sub: "trudy", name: "Trudy", email: '"trudy@example.com@"@example.org', email_verified: true },
    },
  ])("rejects a user $account", async ({ claims }) => {
    mock.behaviour.claims = claims;
    const start = authorizationRequest(worker.url, client);
    const description = "This account is not allowed to sign in here.";

    const errorView = await decideOnConsentPage(start, "Approve");

    expectErrorPage(errorView, 400, "access_denied", description);
    expectClientError(await followReturnLink(page), start, worker.url, "access_denied", description);
    const logged = await logOf(worker, errorView, "upstream_sign_in_failed");
    expect(logged).toMatchObject({ client_id: client.clientId, reason: `subject ${claims.sub} not on the allow-list` });
  });
});
