import { type OAuthHelpers, OAuthProvider } from "@cloudflare/workers-oauth-provider";

/**
 * The benchmark's anchor: an OAuth server on @cloudflare/workers-oauth-provider with the same
 * flow as this project's Worker, minus sign-in and consent pages. `/authorize` approves at once
 * for a fixed user, and `/mcp` handles MCP JSON-RPC by hand with plain JSON responses.
 */

interface Env {
  OAUTH_KV: KVNamespace;
  OAUTH_PROVIDER: OAuthHelpers;
  /** The origin wrangler dev serves this Worker on, such as `http://127.0.0.1:41234`. */
  ORIGIN: string;
}

interface Props {
  userId: string;
  name: string;
}

const USER_ID = "bench-user";

const defaultHandler = {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname !== "/authorize") return new Response("Not found", { status: 404 });
    const authRequest = await env.OAUTH_PROVIDER.parseAuthRequest(request);
    const props: Props = { userId: USER_ID, name: USER_ID };
    const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
      request: authRequest,
      userId: USER_ID,
      metadata: {},
      scope: authRequest.scope,
      props,
    });
    return Response.redirect(redirectTo, 302);
  },
};

interface JsonRpcRequest {
  jsonrpc: "2.0";
  id?: string | number;
  method: string;
  params?: Record<string, unknown>;
}

function result(id: JsonRpcRequest["id"], value: unknown): Response {
  return Response.json({ jsonrpc: "2.0", id, result: value });
}

function error(id: JsonRpcRequest["id"] | null, code: number, message: string, status = 200): Response {
  return Response.json({ jsonrpc: "2.0", id, error: { code, message } }, { status });
}

const apiHandler = {
  async fetch(request: Request, _env: Env, ctx: ExecutionContext): Promise<Response> {
    if (request.method !== "POST") return new Response(null, { status: 405, headers: { Allow: "POST" } });
    let message: JsonRpcRequest;
    try {
      message = (await request.json()) as JsonRpcRequest;
    } catch {
      return error(null, -32700, "Parse error", 400);
    }
    // A notification, such as notifications/initialized, gets 202 and no body.
    if (message.id === undefined) return new Response(null, { status: 202 });

    const props = (ctx as ExecutionContext & { props: Props }).props;
    switch (message.method) {
      case "initialize":
        return result(message.id, {
          protocolVersion: (message.params?.protocolVersion as string | undefined) ?? "2025-06-18",
          capabilities: { tools: {} },
          serverInfo: { name: "bench-anchor", version: "0.1.0" },
        });
      case "tools/list":
        return result(message.id, {
          tools: [{ name: "whoami", description: "Returns the signed-in user.", inputSchema: { type: "object" } }],
        });
      case "tools/call": {
        if (message.params?.name !== "whoami") return error(message.id, -32602, `Unknown tool: ${String(message.params?.name)}`);
        const caller = { subject: props.userId, name: props.name };
        return result(message.id, { content: [{ type: "text", text: JSON.stringify(caller) }], structuredContent: caller });
      }
      default:
        return error(message.id, -32601, `Method not found: ${message.method}`);
    }
  },
};

const providers = new Map<string, OAuthProvider<Env>>();

/** Builds the provider once per origin, because the protected resource's URL contains the port. */
function providerFor(origin: string): OAuthProvider<Env> {
  let provider = providers.get(origin);
  if (!provider) {
    provider = new OAuthProvider<Env>({
      apiRoute: "/mcp",
      apiHandler,
      defaultHandler,
      authorizeEndpoint: "/authorize",
      tokenEndpoint: "/token",
      clientRegistrationEndpoint: "/register",
      scopesSupported: ["mcp"],
      resourceMetadata: { resource: `${origin}/mcp`, authorization_servers: [origin] },
    });
    providers.set(origin, provider);
  }
  return provider;
}

export default {
  fetch(request, env, ctx) {
    return providerFor(env.ORIGIN).fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
