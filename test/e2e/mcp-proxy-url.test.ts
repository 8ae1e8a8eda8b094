import { Client, LATEST_PROTOCOL_VERSION, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "./helpers/browser.js";
import { MemoryOAuthProvider } from "./helpers/mcp-oauth-provider.js";
import { connectWithSignIn, SDK_V2 } from "./helpers/mcp-sdk.js";
import { readEventStream } from "./helpers/mcp-sse.js";
import { COUNT_STEP_DELAY_MS, COUNT_STEPS, startUpstreamMcpServer, type UpstreamMcpServer } from "./helpers/mcp-upstream.js";
import { browserUser, type LoopbackCallback, startLoopbackCallback } from "./helpers/mcp-user.js";
import { startConfiguredWorker } from "./helpers/mcp-worker.js";
import type { WorkerServer } from "./helpers/server.js";

describe("proxy to an MCP server reached by URL", () => {
  let upstream: UpstreamMcpServer;
  let worker: WorkerServer;
  let browser: Browser;
  let callback: LoopbackCallback;
  let provider: MemoryOAuthProvider;
  let client: Client | undefined;
  const logMessages: unknown[] = [];

  function accessToken(): string {
    return provider.tokens()!.access_token;
  }

  beforeAll(async () => {
    upstream = await startUpstreamMcpServer();
    [worker, browser, callback] = await Promise.all([
      startConfiguredWorker({ demo: false, vars: { MCP_UPSTREAM_URL: upstream.url } }),
      launchBrowser(),
      startLoopbackCallback(),
    ]);
    const mcpUrl = new URL(`${worker.url}/mcp`);
    provider = new MemoryOAuthProvider({
      redirectUrl: callback.redirectUri,
      clientName: "E2E client of a URL upstream",
      userAgent: browserUser(browser, "alice", callback.redirectUri).userAgent,
    });
    const signedIn = await connectWithSignIn(SDK_V2, mcpUrl, { provider, fetch });
    await signedIn.close();

    client = new Client({ name: "mcp-oauth-edge-e2e", version: "1.0.0" });
    client.setNotificationHandler("notifications/message", (notification) => {
      logMessages.push(notification.params.data);
    });
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  });

  afterAll(async () => {
    await client?.close();
    await browser?.close();
    await callback?.server.close();
    await worker?.stop();
    await upstream?.close();
  });

  it("streams notifications before the result", async () => {
    const response = await fetch(`${worker.url}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${accessToken()}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "MCP-Protocol-Version": LATEST_PROTOCOL_VERSION,
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "count_slowly", arguments: {}, _meta: { progressToken: "count" } },
      }),
    });

    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/event-stream\b/);
    const events = await readEventStream(response);
    const methods = events.map(({ message }) => message.method ?? `result ${String(message.id)}`);
    expect(methods).toEqual([
      ...Array.from({ length: COUNT_STEPS }, () => ["notifications/progress", "notifications/message"]).flat(),
      "result 1",
    ]);
    expect(events.at(-1)?.message.result).toEqual({ content: [{ type: "text", text: `counted to ${COUNT_STEPS}` }] });
    // A buffering proxy would deliver every event at once, so the tool's pauses must show in the arrival times.
    const spreadMs = events.at(-1)!.receivedAtMs - events[0]!.receivedAtMs;
    expect(spreadMs).toBeGreaterThanOrEqual((COUNT_STEPS - 1) * COUNT_STEP_DELAY_MS * 0.5);
  });

  it("delivers progress and log messages to the SDK client", async () => {
    const progress: number[] = [];
    logMessages.length = 0;

    const result = await client!.callTool(
      { name: "count_slowly", arguments: {} },
      { onprogress: (notification) => progress.push(notification.progress) },
    );

    expect(result.content).toEqual([{ type: "text", text: `counted to ${COUNT_STEPS}` }]);
    expect(progress).toEqual([1, 2, 3]);
    expect(logMessages).toEqual(["step 1", "step 2", "step 3"]);
  });

  it("sends the caller in MCP-Auth-* headers", async () => {
    const received = (await client!.callTool({ name: "show_identity", arguments: {} })).structuredContent as Record<string, string | null>;
    const claims = decodeJwt(accessToken());

    expect(received["mcp-auth-subject"]).toBe(claims.sub);
    expect(received["mcp-auth-client-id"]).toBe(provider.clientInformationSaved?.client_id);
    expect(received["mcp-auth-scope"]).toBe("mcp");
    expect(received["mcp-auth-name"]).toBe("alice");
    expect(received.authorization).toBeNull();
  });

  it("replaces MCP-Auth-* headers a client sent", async () => {
    const response = await fetch(`${worker.url}/mcp`, {
      method: "POST",
      headers: {
        "MCP-Auth-Subject": "mallory",
        "MCP-Auth-Client-Id": "mallorys-client",
        "MCP-Auth-Scope": "mcp:admin",
        "MCP-Auth-Name": "Mallory",
        "MCP-Auth-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.",
        Authorization: `Bearer ${accessToken()}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "MCP-Protocol-Version": LATEST_PROTOCOL_VERSION,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "show_identity", arguments: {} } }),
    });
    const events = await readEventStream(response);
    const received = (events.at(-1)?.message.result as { structuredContent: Record<string, string | null> }).structuredContent;

    expect(response.status).toBe(200);
    expect(received["mcp-auth-subject"]).toBe(decodeJwt(accessToken()).sub);
    expect(received["mcp-auth-client-id"]).toBe(provider.clientInformationSaved?.client_id);
    expect(received["mcp-auth-scope"]).toBe("mcp");
    expect(received["mcp-auth-name"]).toBe("alice");
    expect(decodeJwt(received["mcp-auth-assertion"]!).sub).toBe(decodeJwt(accessToken()).sub);
  });

  it("signs an identity assertion for the upstream origin", async () => {
    const received = (await client!.callTool({ name: "show_identity", arguments: {} })).structuredContent as Record<string, string | null>;
    const assertion = received["mcp-auth-assertion"];
    expect(assertion).toBeTypeOf("string");

    const jwks = createRemoteJWKSet(new URL(`${worker.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(assertion!, jwks, {
      issuer: worker.url,
      audience: upstream.origin,
      typ: "mcp-identity+jwt",
      algorithms: ["ES256"],
    });

    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.sub).toBe(decodeJwt(accessToken()).sub);
    expect(payload.client_id).toBe(provider.clientInformationSaved?.client_id);
    expect(payload.scope).toBe("mcp");
    expect(payload.name).toBe("alice");
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload.jti).toBeTypeOf("string");
  });

  it("never forwards the client's access token", () => {
    const tokens = provider.savedTokens.flatMap((saved) => [saved.access_token, saved.refresh_token ?? []].flat());

    expect(upstream.requests.length).toBeGreaterThan(0);
    for (const request of upstream.requests) {
      expect(request.headers.authorization, `${request.method} ${request.url}`).toBeUndefined();
      const values = Object.values(request.headers).flat().join("\n");
      for (const token of tokens) expect(values.includes(token), `${request.method} ${request.url} carries a token`).toBe(false);
    }
  });

  it("forwards the MCP protocol headers", () => {
    const posts = upstream.requests.filter((request) => request.method === "POST");

    expect(posts.length).toBeGreaterThan(0);
    expect(posts.at(-1)?.headers["mcp-protocol-version"]).toBe(LATEST_PROTOCOL_VERSION);
    expect(posts.at(-1)?.headers.accept).toContain("text/event-stream");
  });
});
