import { setTimeout as sleep } from "node:timers/promises";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./helpers/browser.js";
import { type FetchLog, loggingFetch } from "./helpers/mcp-fetch-log.js";
import { MemoryOAuthProvider } from "./helpers/mcp-oauth-provider.js";
import { connectWithSignIn, type McpSdk, type McpSession, SDK_V1, SDK_V2 } from "./helpers/mcp-sdk.js";
import { type BrowserUser, browserUser, type LoopbackCallback, startLoopbackCallback } from "./helpers/mcp-user.js";
import { startConfiguredWorker } from "./helpers/mcp-worker.js";
import type { WorkerServer } from "./helpers/server.js";

const SDKS = [SDK_V2, SDK_V1];

/** Access token lifetime of the second server, in seconds: long enough to call whoami once. */
const SHORT_ACCESS_TOKEN_TTL = 3;

/** Everything one SDK client needs: a browser user, a loopback redirect URI, a provider and a fetch log. */
interface ClientSetup {
  callback: LoopbackCallback;
  user: BrowserUser;
  provider: MemoryOAuthProvider;
  log: FetchLog;
}

async function setUpClient(browser: Browser, sdk: McpSdk, username: string): Promise<ClientSetup> {
  const callback = await startLoopbackCallback();
  const user = browserUser(browser, username, callback.redirectUri);
  const provider = new MemoryOAuthProvider({
    redirectUrl: callback.redirectUri,
    clientName: `E2E client on SDK ${sdk.name}`,
    userAgent: user.userAgent,
  });
  return { callback, user, provider, log: loggingFetch() };
}

function currentAccessToken(provider: MemoryOAuthProvider): string {
  const tokens = provider.tokens();
  if (!tokens) throw new Error("The provider has no saved tokens. Sign in first.");
  return tokens.access_token;
}

let browser: Browser;
let expiringWorker: Promise<WorkerServer>;

beforeAll(async () => {
  // Started first, so that it boots while the tests against the shared server run.
  expiringWorker = startConfiguredWorker({ demo: true, vars: { ACCESS_TOKEN_TTL: SHORT_ACCESS_TOKEN_TTL } });
  expiringWorker.catch(() => {});
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  const worker = await expiringWorker?.catch(() => undefined);
  await worker?.stop();
});

describe.each(SDKS)("MCP TypeScript SDK $name", (sdk) => {
  const issuer = inject("baseUrl");
  const mcpUrl = new URL(`${issuer}/mcp`);

  let setup: ClientSetup;
  let session: McpSession | undefined;

  beforeAll(async () => {
    setup = await setUpClient(browser, sdk, "alice");
  });

  afterAll(async () => {
    await session?.close();
    await setup?.callback.server.close();
  });

  it("signs in through the browser and connects", async () => {
    session = await connectWithSignIn(sdk, mcpUrl, { provider: setup.provider, fetch: setup.log.fetch });

    const requests = setup.log.exchanges.map(({ method, url, status, grantType }) => ({
      method,
      url: url.href,
      status,
      ...(grantType ? { grantType } : {}),
    }));
    expect(requests[0]).toEqual({ method: "POST", url: mcpUrl.href, status: 401 });
    expect(requests).toContainEqual({ method: "GET", url: `${issuer}/.well-known/oauth-protected-resource/mcp`, status: 200 });
    expect(requests).toContainEqual({ method: "GET", url: `${issuer}/.well-known/oauth-authorization-server`, status: 200 });
    expect(requests).toContainEqual({ method: "POST", url: `${issuer}/register`, status: 201 });
    expect(requests).toContainEqual({ method: "POST", url: `${issuer}/token`, status: 200, grantType: "authorization_code" });
  });

  it("registers with dynamic client registration", () => {
    const client = setup.provider.clientInformationSaved;

    expect(client?.client_id).toBeTypeOf("string");
    expect(client?.client_secret).toBeUndefined();
    expect(client).toMatchObject({ redirect_uris: [setup.callback.redirectUri], token_endpoint_auth_method: "none" });
  });

  it("sends an authorization request with PKCE and resource", () => {
    expect(setup.provider.authorizationUrls).toHaveLength(1);
    const url = setup.provider.authorizationUrls[0]!;
    const params = Object.fromEntries(url.searchParams);

    expect(url.origin + url.pathname).toBe(`${issuer}/authorize`);
    expect(params.response_type).toBe("code");
    expect(params.client_id).toBe(setup.provider.clientInformationSaved?.client_id);
    expect(params.redirect_uri).toBe(setup.callback.redirectUri);
    expect(params.code_challenge_method).toBe("S256");
    expect(params.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.resource).toBe(mcpUrl.href);
    expect(params.scope).toBe("mcp");
    expect(params.state).toBe(setup.provider.lastState);
  });

  it("shows alice the consent page", () => {
    expect(setup.user.signIns).toHaveLength(1);
    const { consentText, callback } = setup.user.signIns[0]!;

    expect(consentText).toContain(`Allow E2E client on SDK ${sdk.name} to access your account?`);
    expect(consentText).toContain("Signed in as alice");
    expect(callback.searchParams.get("iss")).toBe(issuer);
    expect(callback.searchParams.get("code")).toBeTruthy();
  });

  it("saves a bearer token and a refresh token", () => {
    const tokens = setup.provider.tokens();

    expect(tokens?.token_type).toBe("Bearer");
    expect(tokens?.scope).toBe("mcp");
    expect(tokens?.refresh_token).toBeTypeOf("string");
    expect(tokens?.expires_in).toBe(3600);
  });

  it("lists the whoami tool", async () => {
    expect(await session!.listToolNames()).toContain("whoami");
  });

  it("calls whoami as alice", async () => {
    const caller = await session!.whoami();
    const claims = decodeJwt(currentAccessToken(setup.provider));

    expect(caller).toEqual({
      subject: claims.sub,
      client_id: setup.provider.clientInformationSaved?.client_id,
      scope: "mcp",
      name: "alice",
    });
  });

  it("refreshes the token and calls whoami again", async () => {
    const before = setup.provider.tokens()!;
    const logged = setup.log.exchanges.length;

    expect(await sdk.refresh(mcpUrl, { provider: setup.provider, fetch: setup.log.fetch })).toBe("AUTHORIZED");
    const after = setup.provider.tokens()!;
    const tokenRequests = setup.log.exchanges.slice(logged).filter((exchange) => exchange.url.pathname === "/token");
    expect(tokenRequests).toEqual([expect.objectContaining({ method: "POST", status: 200, grantType: "refresh_token" })]);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBeTypeOf("string");
    expect(after.refresh_token).not.toBe(before.refresh_token);

    const caller = await session!.whoami();
    expect(caller.name).toBe("alice");
    expect(caller.subject).toBe(decodeJwt(after.access_token).sub);
    const whoamiCall = setup.log.exchanges.filter((exchange) => exchange.method === "POST").at(-1);
    expect(whoamiCall).toMatchObject({ status: 200, authorization: `Bearer ${after.access_token}` });
  });
});

describe("MCP TypeScript SDK with an expired access token", () => {
  let worker: WorkerServer;
  const setups: ClientSetup[] = [];

  beforeAll(async () => {
    worker = await expiringWorker;
  });

  afterAll(async () => {
    await Promise.all(setups.map((setup) => setup.callback.server.close()));
  });

  it.each(SDKS)("refreshes on 401 with $name", async (sdk) => {
    const mcpUrl = new URL(`${worker.url}/mcp`);
    const setup = await setUpClient(browser, sdk, "alice");
    setups.push(setup);
    const session = await connectWithSignIn(sdk, mcpUrl, { provider: setup.provider, fetch: setup.log.fetch });

    try {
      expect((await session.whoami()).name).toBe("alice");
      const expired = currentAccessToken(setup.provider);
      const expiresAt = decodeJwt(expired).exp! * 1000;
      const logged = setup.log.exchanges.length;
      // The Worker compares whole seconds, so the token is rejected from the second `exp` on.
      await sleep(Math.max(0, expiresAt - Date.now()) + 100);

      const caller = await session.whoami();

      expect(caller.name).toBe("alice");
      // The client's GET event stream may reconnect during the wait and meet the 401 first, so the
      // order of the requests varies. In every order the expired token gets a 401, the SDK
      // refreshes, and the call goes through with the new token without a new sign-in.
      const exchanges = setup.log.exchanges.slice(logged);
      const steps = exchanges.map(({ method, url, status, grantType }) => ({ method, path: url.pathname, status, grantType }));
      expect(exchanges).toContainEqual(expect.objectContaining({ status: 401, authorization: `Bearer ${expired}` }));
      expect(steps).toContainEqual({ method: "POST", path: "/token", status: 200, grantType: "refresh_token" });
      const whoamiCall = exchanges.filter((exchange) => exchange.method === "POST").at(-1);
      expect(whoamiCall).toMatchObject({ status: 200, authorization: `Bearer ${currentAccessToken(setup.provider)}` });
      expect(whoamiCall?.url.pathname).toBe("/mcp");
      expect(currentAccessToken(setup.provider)).not.toBe(expired);
      expect(setup.user.signIns).toHaveLength(1);
    } finally {
      await session.close();
    }
  });
});
