import {
  auth as authV2,
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedErrorV2,
} from "@modelcontextprotocol/client";
import { auth as authV1, UnauthorizedError as UnauthorizedErrorV1 } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { MemoryOAuthProvider } from "./mcp-oauth-provider.js";

type Fetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** A connected MCP client. */
export interface McpSession {
  listToolNames(): Promise<string[]>;
  /** Calls the demo server's `whoami` tool and returns its structured content. */
  whoami(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** One client and one Streamable HTTP transport, as an MCP host creates them per connection. */
export interface McpConnection {
  /** Connects the client, or rejects with the SDK's UnauthorizedError when the user must sign in first. */
  connect(): Promise<McpSession>;
  /** Redeems the authorization code in the callback URL with this transport's `finishAuth`. */
  finishAuth(callback: URL): Promise<void>;
}

export interface ConnectionOptions {
  provider: MemoryOAuthProvider;
  fetch: Fetch;
  /** Headers the client adds to every request, through the transport's `requestInit`. */
  headers?: Record<string, string>;
}

/** One major version of the MCP TypeScript SDK, driven only through its public client API. */
export interface McpSdk {
  name: string;
  open(url: URL, options: ConnectionOptions): McpConnection;
  /** Runs the SDK's `auth()`, which refreshes the tokens when the provider has a refresh token. */
  refresh(url: URL, options: ConnectionOptions): Promise<string>;
  isUnauthorized(error: unknown): boolean;
}

function structuredContentOf(result: object): Record<string, unknown> {
  const content = "structuredContent" in result ? result.structuredContent : undefined;
  if (typeof content !== "object" || content === null) {
    throw new Error(`whoami returned no structured content: ${JSON.stringify(result)}`);
  }
  return content as Record<string, unknown>;
}

/** `@modelcontextprotocol/client`, the v2 SDK. */
export const SDK_V2: McpSdk = {
  name: "v2 (@modelcontextprotocol/client)",
  open(url, { provider, fetch, headers }) {
    const transport = new TransportV2(url, { authProvider: provider, fetch, requestInit: { headers: headers ?? {} } });
    const client = new ClientV2({ name: "mcp-oauth-edge-e2e", version: "1.0.0" });
    return {
      async connect() {
        await client.connect(transport);
        return {
          listToolNames: async () => (await client.listTools()).tools.map((tool) => tool.name),
          whoami: async () => structuredContentOf(await client.callTool({ name: "whoami", arguments: {} })),
          close: () => client.close(),
        };
      },
      finishAuth: (callback) => transport.finishAuth(callback.searchParams),
    };
  },
  refresh: async (url, { provider, fetch }) => authV2(provider, { serverUrl: url, fetchFn: fetch }),
  isUnauthorized: (error) => error instanceof UnauthorizedErrorV2,
};

/** `@modelcontextprotocol/sdk`, the v1 SDK. */
export const SDK_V1: McpSdk = {
  name: "v1 (@modelcontextprotocol/sdk)",
  open(url, { provider, fetch, headers }) {
    const transport = new TransportV1(url, { authProvider: provider, fetch, requestInit: { headers: headers ?? {} } });
    const client = new ClientV1({ name: "mcp-oauth-edge-e2e", version: "1.0.0" });
    return {
      async connect() {
        await client.connect(transport);
        return {
          listToolNames: async () => (await client.listTools()).tools.map((tool) => tool.name),
          whoami: async () => structuredContentOf(await client.callTool({ name: "whoami", arguments: {} })),
          close: () => client.close(),
        };
      },
      // v1 takes the bare code and does not check the RFC 9207 `iss` parameter.
      finishAuth: (callback) => transport.finishAuth(callback.searchParams.get("code") ?? ""),
    };
  },
  refresh: async (url, { provider, fetch }) => authV1(provider, { serverUrl: url, fetchFn: fetch }),
  isUnauthorized: (error) => error instanceof UnauthorizedErrorV1,
};

/**
 * Connects the way the SDK's interactive examples do. The first attempt fails with
 * UnauthorizedError after the provider sent the user to sign in. Once the browser is back at the
 * redirect URI, the same transport's `finishAuth` redeems the code, and a new connection follows.
 * The SDK leaves the `state` check to the application, so this compares it first.
 */
export async function connectWithSignIn(sdk: McpSdk, url: URL, options: ConnectionOptions): Promise<McpSession> {
  const first = sdk.open(url, options);
  const outcome = await first.connect().then(
    (session) => ({ session }),
    (error: unknown) => ({ error }),
  );
  if ("session" in outcome) return outcome.session;
  if (!sdk.isUnauthorized(outcome.error)) throw outcome.error;

  const callback = await options.provider.authorizationResponse();
  const state = callback.searchParams.get("state");
  if (state !== options.provider.lastState) {
    throw new Error(`The callback's state ${state} differs from the state sent, ${options.provider.lastState}: ${callback.href}`);
  }
  await first.finishAuth(callback);
  return sdk.open(url, options).connect();
}
