import { decodeJwt } from "jose";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "./helpers/browser.js";
import { loggingFetch } from "./helpers/mcp-fetch-log.js";
import { MemoryOAuthProvider } from "./helpers/mcp-oauth-provider.js";
import { connectWithSignIn, SDK_V2 } from "./helpers/mcp-sdk.js";
import { type LoopbackCallback, startLoopbackCallback } from "./helpers/mcp-user.js";
import { signInUpstream, type UpstreamCredentials, type UpstreamSignIn } from "./helpers/oidc-browser.js";
import { startUpstreamProvider, type UpstreamProvider } from "./helpers/oidc-upstream.js";
import { startOidcWorker } from "./helpers/oidc-worker.js";
import type { WorkerServer } from "./helpers/server.js";

const UPSTREAM_CLIENT_ID = "mcp-oauth-edge";
const UPSTREAM_CLIENT_SECRET = "upstream-client-secret";
const PROFILES = {
  alice: { name: "Alice Liddell", email: "alice@example.com" },
  bob: { name: "Bob Marley", email: "bob@example.com" },
};

let upstream: UpstreamProvider;
let worker: WorkerServer;
let browser: Browser;
let loopback: LoopbackCallback;

beforeAll(async () => {
  upstream = await startUpstreamProvider({ clientId: UPSTREAM_CLIENT_ID, clientSecret: UPSTREAM_CLIENT_SECRET, profiles: PROFILES });
  [worker, browser, loopback] = await Promise.all([
    startOidcWorker({ issuer: upstream.issuer, clientId: UPSTREAM_CLIENT_ID, clientSecret: UPSTREAM_CLIENT_SECRET, demo: true }),
    launchBrowser(),
    startLoopbackCallback(),
  ]);
  upstream.configure({ redirectUri: `${worker.url}/oidc/callback`, claimsIn: "id_token" });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([worker?.stop(), upstream?.close(), loopback?.server.close()]);
});

/** A user's browser, one context, so cookies of the Worker and of the provider last across authorizations. */
interface BrowserUser {
  context: BrowserContext;
  signIns: UpstreamSignIn[];
  /** A new MCP client that sends this user to authorize. */
  client(clientName: string): MemoryOAuthProvider;
}

async function openBrowserUser(credentials: UpstreamCredentials): Promise<BrowserUser> {
  const context = await browser.newContext();
  const signIns: UpstreamSignIn[] = [];
  return {
    context,
    signIns,
    client: (clientName) =>
      new MemoryOAuthProvider({
        redirectUrl: loopback.redirectUri,
        clientName,
        userAgent: async (authorizationUrl) => {
          const signIn = await signInUpstream(context, authorizationUrl, credentials, loopback.redirectUri);
          signIns.push(signIn);
          return signIn.callback;
        },
      }),
  };
}

function accessTokenSubject(provider: MemoryOAuthProvider): string | undefined {
  const tokens = provider.tokens();
  if (!tokens) throw new Error("The MCP client holds no tokens.");
  return decodeJwt(tokens.access_token).sub;
}

function upstreamVisits(signIn: UpstreamSignIn): string[] {
  return signIn.navigations.filter((url) => url.origin === upstream.issuer).map((url) => url.pathname);
}

describe("MCP client signing in at oidc-provider", () => {
  const mcpUrl = () => new URL(`${worker.url}/mcp`);
  let alice: BrowserUser;
  let client: MemoryOAuthProvider;
  let firstSubject: string | undefined;

  beforeAll(async () => {
    alice = await openBrowserUser({ login: "alice", password: "any password" });
    client = alice.client("OIDC E2E Client");
  });

  afterAll(async () => {
    await alice?.context.close();
  });

  it("signs in upstream and calls whoami", async () => {
    const log = loggingFetch();
    const session = await connectWithSignIn(SDK_V2, mcpUrl(), { provider: client, fetch: log.fetch });
    try {
      const caller = await session.whoami();
      firstSubject = accessTokenSubject(client);
      expect(caller).toEqual({
        subject: firstSubject,
        client_id: client.clientInformationSaved?.client_id,
        scope: "mcp",
        name: "Alice Liddell",
      });
    } finally {
      await session.close();
    }

    expect(alice.signIns).toHaveLength(1);
    const signIn = alice.signIns[0]!;
    expect(signIn.steps).toEqual(["consent", "upstream-login", "upstream-consent"]);
    expect(signIn.consentText).toContain("Allow OIDC E2E Client to access your account?");
    expect(signIn.consentText).toContain(`If you approve, you sign in at ${new URL(upstream.issuer).host} next.`);
    expect(signIn.callback.searchParams.get("iss")).toBe(worker.url);
    expect(upstreamVisits(signIn)[0]).toBe("/auth");
    expect(upstream.tokenExchanges).toBe(1);
    expect(upstream.errors).toEqual([]);
  });

  it("skips consent on second authorization", async () => {
    client.invalidateCredentials("tokens");
    const log = loggingFetch();

    const session = await connectWithSignIn(SDK_V2, mcpUrl(), { provider: client, fetch: log.fetch });
    try {
      expect((await session.whoami()).name).toBe("Alice Liddell");
    } finally {
      await session.close();
    }

    expect(alice.signIns).toHaveLength(2);
    const signIn = alice.signIns[1]!;
    expect(signIn.steps).toEqual([]);
    expect(upstreamVisits(signIn)).toEqual([]);
    expect(signIn.navigations.map((url) => url.origin + url.pathname)).toEqual([`${worker.url}/authorize`, loopback.redirectUri]);
    expect(accessTokenSubject(client)).toBe(firstSubject);
    expect(upstream.tokenExchanges).toBe(1);
  });

  it("asks again for another client", async () => {
    const otherClient = alice.client("Another E2E Client");
    const log = loggingFetch();

    const session = await connectWithSignIn(SDK_V2, mcpUrl(), { provider: otherClient, fetch: log.fetch });
    try {
      expect((await session.whoami()).name).toBe("Alice Liddell");
    } finally {
      await session.close();
    }

    const signIn = alice.signIns.at(-1)!;
    expect(signIn.steps).toEqual(["consent"]);
    expect(signIn.consentText).toContain("Allow Another E2E Client to access your account?");
    expect(signIn.consentText).toContain("Signed in as Alice Liddell.");
    expect(upstreamVisits(signIn)).toEqual([]);
    expect(accessTokenSubject(otherClient)).toBe(firstSubject);
  });
});

describe("MCP client signing in at oidc-provider with claims at userinfo", () => {
  let bob: BrowserUser;

  beforeAll(async () => {
    // By oidc-provider's default, name and email are at the userinfo endpoint only when response_type is code.
    upstream.configure({ redirectUri: `${worker.url}/oidc/callback`, claimsIn: "userinfo" });
    bob = await openBrowserUser({ login: "bob", password: "any password" });
  });

  afterAll(async () => {
    await bob?.context.close();
  });

  it("calls whoami with the userinfo name", async () => {
    const client = bob.client("OIDC E2E Client");
    const log = loggingFetch();

    const session = await connectWithSignIn(SDK_V2, new URL(`${worker.url}/mcp`), { provider: client, fetch: log.fetch });
    try {
      expect(bob.signIns[0]?.steps).toEqual(["consent", "upstream-login", "upstream-consent"]);
      expect(await session.whoami()).toMatchObject({ subject: accessTokenSubject(client), name: "Bob Marley" });
    } finally {
      await session.close();
    }
  });
});
