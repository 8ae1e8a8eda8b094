import { McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";

/** The caller as the authorization server's proxy passed it in the MCP-Auth-* headers. */
interface Caller {
  subject: string;
  client_id: string;
  scope: string;
  name?: string;
}

function callerOf(request: Request): Caller | undefined {
  const subject = request.headers.get("MCP-Auth-Subject");
  const clientId = request.headers.get("MCP-Auth-Client-Id");
  if (!subject || !clientId) return undefined;

  const caller: Caller = { subject, client_id: clientId, scope: request.headers.get("MCP-Auth-Scope") ?? "" };
  const name = request.headers.get("MCP-Auth-Name");
  if (name) caller.name = decodeURIComponent(name);
  return caller;
}

function buildServer(caller: Caller): McpServer {
  const server = new McpServer({ name: "mcp-demo-server", version: "0.1.0" });
  server.registerTool(
    "whoami",
    { title: "Who am I", description: "Returns the signed-in user and client that called this tool." },
    async () => ({
      content: [{ type: "text", text: JSON.stringify(caller) }],
      structuredContent: { ...caller },
    }),
  );
  return server;
}

export default {
  async fetch(request: Request): Promise<Response> {
    // The Worker has no public route: only the proxy reaches it, and the proxy strips any
    // MCP-Auth-* header a client sent before it sets its own.
    const caller = callerOf(request);
    if (!caller) {
      return Response.json({ error: "invalid_request", error_description: "Missing MCP-Auth-* identity headers." }, { status: 401 });
    }

    // Stateless: a new server and transport per request, so any Worker isolate can serve it.
    const server = buildServer(caller);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: false });
    await server.connect(transport);
    return transport.handleRequest(request);
  },
};
