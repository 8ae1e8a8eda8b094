// Echoes each request as JSON: the workerd tests bind it as MCP_SERVER to see what the proxy forwards.
export default {
  async fetch(request) {
    const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    return Response.json(
      { method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body },
      { headers: { "Mcp-Session-Id": "echo-session" } },
    );
  },
};
