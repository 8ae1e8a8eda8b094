import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

/** Notifications `count_slowly` sends before its result: one progress and one log message each. */
export const COUNT_STEPS = 3;

/** Pause before each step of `count_slowly`, in milliseconds, so the steps arrive apart. */
export const COUNT_STEP_DELAY_MS = 150;

/** One HTTP request the upstream server received. */
export interface UpstreamRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** An MCP server on Node, reached by URL, as a Worker protects it with `MCP_UPSTREAM_URL`. */
export interface UpstreamMcpServer {
  /** URL of the MCP endpoint, such as `http://127.0.0.1:41236/mcp`. */
  url: string;
  origin: string;
  /** Every request received, in order. */
  requests: UpstreamRequest[];
  close(): Promise<void>;
}

function buildServer(): McpServer {
  const server = new McpServer({ name: "mcp-upstream-e2e", version: "1.0.0" }, { capabilities: { logging: {} } });

  server.registerTool(
    "count_slowly",
    { description: `Counts to ${COUNT_STEPS}, sending a progress notification and a log message per step.` },
    async (extra) => {
      const progressToken = extra._meta?.progressToken;
      for (let step = 1; step <= COUNT_STEPS; step++) {
        await sleep(COUNT_STEP_DELAY_MS);
        if (progressToken !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress: step, total: COUNT_STEPS } });
        }
        await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: `step ${step}` } });
      }
      return { content: [{ type: "text", text: `counted to ${COUNT_STEPS}` }] };
    },
  );

  server.registerTool(
    "show_identity",
    { description: "Returns the MCP-Auth-* headers and the Authorization header this server received." },
    async (extra) => {
      const headers = extra.requestInfo?.headers ?? {};
      const received: Record<string, string | null> = {};
      const names = ["mcp-auth-subject", "mcp-auth-client-id", "mcp-auth-scope", "mcp-auth-name", "mcp-auth-assertion", "authorization"];
      for (const name of names) {
        const value = headers[name];
        received[name] = Array.isArray(value) ? value.join(", ") : (value ?? null);
      }
      return { content: [{ type: "text", text: JSON.stringify(received) }], structuredContent: received };
    },
  );
  return server;
}

/**
 * Starts a stateless MCP server with the v1 SDK's Node transport on 127.0.0.1 and a free port:
 * a new server and transport per request, serving only `/mcp`.
 */
export async function startUpstreamMcpServer(): Promise<UpstreamMcpServer> {
  const requests: UpstreamRequest[] = [];

  const http = createServer(async (request, response) => {
    requests.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers });
    if (new URL(request.url ?? "/", "http://upstream").pathname !== "/mcp") {
      response.writeHead(404).end();
      return;
    }

    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    response.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request, response);
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", resolve);
  });
  const { port } = http.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/mcp`,
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
