import {
  discoverOAuthServerInfo,
  exchangeAuthorization,
  extractWWWAuthenticateParams,
  LATEST_PROTOCOL_VERSION,
  registerClient,
  startAuthorization,
} from "@modelcontextprotocol/client";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchBrowser } from "./helpers/browser.js";
import { MemoryOAuthProvider } from "./helpers/mcp-oauth-provider.js";
import { connectWithSignIn, type McpSession, SDK_V2 } from "./helpers/mcp-sdk.js";
import { browserUser, type LoopbackCallback, signInAndApprove, startLoopbackCallback } from "./helpers/mcp-user.js";
import { startConfiguredWorker } from "./helpers/mcp-worker.js";
import type { WorkerServer } from "./helpers/server.js";

/** Headers a client sends to claim another identity. The proxy must drop every one of them. */
const FORGED_IDENTITY = {
  "MCP-Auth-Subject": "mallory",
  "MCP-Auth-Name": "Mallory",
  "MCP-Auth-Client-Id": "mallorys-client",
  "MCP-Auth-Scope": "mcp:admin",
  "MCP-Auth-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.",
};

/** The scope the second server requires on every /mcp request. */
const REQUIRED_SCOPE = "mcp:admin";

function initializeRequest(accessToken?: string): RequestInit {
  return {
    method: "POST",
    headers: {
      ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "mcp-oauth-edge-e2e", version: "1.0.0" } },
    }),
  };
}

let browser: Browser;
let callback: LoopbackCallback;
let scopedWorker: Promise<WorkerServer>;

beforeAll(async () => {
  // Started first, so that it boots while the tests against the shared server run.
  scopedWorker = startConfiguredWorker({
    demo: true,
    vars: { SCOPES_SUPPORTED: ["mcp", REQUIRED_SCOPE], MCP_REQUIRED_SCOPES: [REQUIRED_SCOPE] },
  });
  scopedWorker.catch(() => {});
  [browser, callback] = await Promise.all([launchBrowser(), startLoopbackCallback()]);
});

afterAll(async () => {
  await browser?.close();
  await callback?.server.close();
  const worker = await scopedWorker?.catch(() => undefined);
  await worker?.stop();
});

describe("identity headers sent by a client", () => {
  const issuer = inject("baseUrl");
  const mcpUrl = new URL(`${issuer}/mcp`);
  let provider: MemoryOAuthProvider;
  let session: McpSession;
  /** Headers of every request the client sent to /mcp. */
  const sentHeaders: Headers[] = [];

  const recordingFetch = (input: string | URL, init?: RequestInit) => {
    if (new URL(input).pathname === "/mcp") sentHeaders.push(new Headers(init?.headers));
    return fetch(input, init);
  };

  beforeAll(async () => {
    provider = new MemoryOAuthProvider({
      redirectUrl: callback.redirectUri,
      clientName: "E2E client sending identity headers",
      userAgent: browserUser(browser, "alice", callback.redirectUri).userAgent,
    });
    session = await connectWithSignIn(SDK_V2, mcpUrl, { provider, fetch: recordingFetch, headers: FORGED_IDENTITY });
  });

  afterAll(async () => {
    await session?.close();
  });

  it("do not change whoami", async () => {
    const caller = await session.whoami();

    expect(sentHeaders.at(-1)?.get("MCP-Auth-Subject")).toBe("mallory");
    expect(sentHeaders.at(-1)?.get("MCP-Auth-Name")).toBe("Mallory");
    expect(caller).toEqual({
      subject: decodeJwt(provider.tokens()!.access_token).sub,
      client_id: provider.clientInformationSaved?.client_id,
      scope: "mcp",
      name: "alice",
    });
  });
});

describe("user names in identity headers", () => {
  const issuer = inject("baseUrl");

  it("keeps a non-ASCII name intact", async () => {
    const name = "Zoë Ångström";
    const provider = new MemoryOAuthProvider({
      redirectUrl: callback.redirectUri,
      clientName: "E2E client of a user with a non-ASCII name",
      userAgent: browserUser(browser, name, callback.redirectUri).userAgent,
    });
    const session = await connectWithSignIn(SDK_V2, new URL(`${issuer}/mcp`), { provider, fetch });

    try {
      expect((await session.whoami()).name).toBe(name);
    } finally {
      await session.close();
    }
  });
});

describe("RFC 6750 challenges parsed by the MCP SDK", () => {
  const issuer = inject("baseUrl");
  const mcpUrl = `${issuer}/mcp`;
  const resourceMetadataUrl = `${issuer}/.well-known/oauth-protected-resource/mcp`;

  it("401 without a token names the metadata", async () => {
    const response = await fetch(mcpUrl, initializeRequest());

    expect(response.status).toBe(401);
    expect(extractWWWAuthenticateParams(response)).toEqual({
      resourceMetadataUrl: new URL(resourceMetadataUrl),
      scope: undefined,
      error: undefined,
      errorDescription: undefined,
    });
  });

  it("401 for a malformed token is invalid_token", async () => {
    const response = await fetch(mcpUrl, initializeRequest("not-a-jwt"));

    expect(response.status).toBe(401);
    expect(extractWWWAuthenticateParams(response)).toEqual({
      resourceMetadataUrl: new URL(resourceMetadataUrl),
      scope: undefined,
      error: "invalid_token",
      errorDescription: "The access token is invalid, expired, or not for this resource.",
    });
  });
});

describe(`server requiring the scope ${REQUIRED_SCOPE}`, () => {
  let mcpUrl: URL;
  let resourceMetadataUrl: URL;

  beforeAll(async () => {
    const worker = await scopedWorker;
    mcpUrl = new URL(`${worker.url}/mcp`);
    resourceMetadataUrl = new URL(`${worker.url}/.well-known/oauth-protected-resource/mcp`);
  });

  it("401 names the required scope", async () => {
    const response = await fetch(mcpUrl, initializeRequest());

    expect(response.status).toBe(401);
    expect(extractWWWAuthenticateParams(response)).toEqual({
      resourceMetadataUrl,
      scope: REQUIRED_SCOPE,
      error: undefined,
      errorDescription: undefined,
    });
  });

  it("403 for a token without it is insufficient_scope", async () => {
    // A client that asks for "mcp" only, through the SDK's individual OAuth functions.
    const { authorizationServerUrl, authorizationServerMetadata: metadata, resourceMetadata } = await discoverOAuthServerInfo(mcpUrl);
    const clientInformation = await registerClient(authorizationServerUrl, {
      metadata,
      clientMetadata: {
        client_name: "E2E client with the mcp scope only",
        redirect_uris: [callback.redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        scope: "mcp",
      },
    });
    const { authorizationUrl, codeVerifier } = await startAuthorization(authorizationServerUrl, {
      metadata,
      clientInformation,
      redirectUrl: callback.redirectUri,
      scope: "mcp",
      resource: resourceMetadata!.resource,
    });
    const { callback: redirect } = await signInAndApprove(browser, authorizationUrl, "alice", callback.redirectUri);
    const tokens = await exchangeAuthorization(authorizationServerUrl, {
      metadata,
      clientInformation,
      authorizationCode: redirect.searchParams.get("code")!,
      iss: redirect.searchParams.get("iss") ?? undefined,
      codeVerifier,
      redirectUri: callback.redirectUri,
      resource: resourceMetadata!.resource,
    });
    expect(tokens.scope).toBe("mcp");

    const response = await fetch(mcpUrl, initializeRequest(tokens.access_token));

    expect(response.status).toBe(403);
    expect(extractWWWAuthenticateParams(response)).toEqual({
      resourceMetadataUrl,
      scope: `mcp ${REQUIRED_SCOPE}`,
      error: "insufficient_scope",
      errorDescription: `The access token lacks the scope ${REQUIRED_SCOPE}.`,
    });
  });

  it("SDK client asks for the challenged scope", async () => {
    const provider = new MemoryOAuthProvider({
      redirectUrl: callback.redirectUri,
      clientName: "E2E client following the challenge",
      userAgent: browserUser(browser, "alice", callback.redirectUri).userAgent,
    });
    const session = await connectWithSignIn(SDK_V2, mcpUrl, { provider, fetch });

    try {
      expect(provider.authorizationUrls[0]?.searchParams.get("scope")).toBe(REQUIRED_SCOPE);
      expect(provider.tokens()?.scope).toBe(REQUIRED_SCOPE);
      const caller = await session.whoami();
      expect(caller.name).toBe("alice");
      expect(caller.scope).toBe(REQUIRED_SCOPE);
    } finally {
      await session.close();
    }
  });
});
