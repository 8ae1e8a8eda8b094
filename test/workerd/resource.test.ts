import { describe, expect, it } from "vitest";
import {
  ISSUER,
  issueTokens,
  publicClientBody,
  RESOURCE,
  registerClient,
  startServer,
  type TestServer,
  verifyAccessToken,
} from "./flow-helpers.js";
import { readJson } from "./helpers.js";

const BROWSER_ORIGIN = "http://localhost:6274";
const METADATA_URL = `${ISSUER}/.well-known/oauth-protected-resource/mcp`;

/** What the echo Worker behind the MCP_SERVER binding reports about the request it received. */
interface EchoedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

async function accessToken(server: TestServer): Promise<string> {
  const client = await registerClient(server, publicClientBody());
  return (await issueTokens(server, client)).access_token;
}

function callMcp(server: TestServer, token: string | undefined, headers: Record<string, string> = {}) {
  return server.send("/mcp", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
}

describe("RFC 9728 protected resource metadata", () => {
  it("serves the path-suffixed document", async () => {
    const server = startServer();

    const response = await server.send("/.well-known/oauth-protected-resource/mcp", { headers: { Origin: BROWSER_ORIGIN } });
    const metadata = await readJson<Record<string, unknown>>(response);

    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(metadata.resource).toBe(RESOURCE);
    expect(metadata.authorization_servers).toEqual([ISSUER]);
    expect(metadata.bearer_methods_supported).toEqual(["header"]);
    expect(metadata.scopes_supported).toEqual(["mcp"]);
  });

  it("serves the first resource at the bare URL", async () => {
    const server = startServer();

    const response = await server.send("/.well-known/oauth-protected-resource");
    const metadata = await readJson<Record<string, unknown>>(response);

    expect(response.status).toBe(200);
    expect(metadata.resource).toBe(RESOURCE);
  });

  it("keeps the issuer byte-equal everywhere", async () => {
    const server = startServer();
    const authorizationServer = await readJson<{ issuer: string }>(await server.send("/.well-known/oauth-authorization-server"));
    const resource = await readJson<{ authorization_servers: string[] }>(await server.send("/.well-known/oauth-protected-resource/mcp"));
    const { payload } = await verifyAccessToken(server, await accessToken(server));

    expect(authorizationServer.issuer).toBe(ISSUER);
    expect(resource.authorization_servers[0]).toBe(authorizationServer.issuer);
    expect(payload.iss).toBe(authorizationServer.issuer);
  });
});

describe("RFC 6750 bearer challenges on /mcp", () => {
  it("challenges a request without a token", async () => {
    const server = startServer();

    const response = await callMcp(server, undefined, { Origin: BROWSER_ORIGIN });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(`Bearer resource_metadata="${METADATA_URL}"`);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(BROWSER_ORIGIN);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("Mcp-Session-Id");
  });

  it("names invalid_token for a bad token", async () => {
    const server = startServer();

    const response = await callMcp(server, "not-a-jwt");
    const body = await readJson<{ error: string }>(response);

    expect(response.status).toBe(401);
    expect(body.error).toBe("invalid_token");
    expect(response.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    expect(response.headers.get("WWW-Authenticate")).toContain(`resource_metadata="${METADATA_URL}"`);
  });

  it("rejects a token after it expires", async () => {
    const server = startServer();
    const token = await accessToken(server);

    server.advance(3601);
    const response = await callMcp(server, token);

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
  });

  it("asks for a missing scope with 403", async () => {
    const server = startServer({ SCOPES_SUPPORTED: ["mcp", "mcp:admin"], DEFAULT_SCOPE: "mcp", MCP_REQUIRED_SCOPES: ["mcp:admin"] });
    const token = await accessToken(server);

    const response = await callMcp(server, token);
    const body = await readJson<{ error: string }>(response);

    expect(response.status).toBe(403);
    expect(body.error).toBe("insufficient_scope");
    expect(response.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
    expect(response.headers.get("WWW-Authenticate")).toContain('scope="mcp mcp:admin"');
  });
});

describe("MCP proxy", () => {
  it("forwards the request with the caller's identity", async () => {
    const server = startServer();
    const token = await accessToken(server);
    const { payload } = await verifyAccessToken(server, token);

    const response = await callMcp(server, token);
    const echoed = await readJson<EchoedRequest>(response);

    expect(response.status).toBe(200);
    expect(echoed.method).toBe("POST");
    expect(new URL(echoed.url).pathname).toBe("/mcp");
    expect(echoed.body).toContain('"tools/list"');
    expect(echoed.headers["mcp-auth-subject"]).toBe(payload.sub);
    expect(echoed.headers["mcp-auth-client-id"]).toBe(payload.client_id);
    expect(echoed.headers["mcp-auth-scope"]).toBe("mcp");
    expect(echoed.headers["mcp-auth-name"]).toBe("alice");
  });

  it("never forwards the client's token", async () => {
    const server = startServer();
    const token = await accessToken(server);

    const echoed = await readJson<EchoedRequest>(await callMcp(server, token, { Cookie: "session=1" }));

    expect(echoed.headers.authorization).toBeUndefined();
    expect(echoed.headers.cookie).toBeUndefined();
    expect(JSON.stringify(echoed.headers)).not.toContain(token);
  });

  it("replaces identity headers the client sent", async () => {
    const server = startServer();
    const token = await accessToken(server);

    const echoed = await readJson<EchoedRequest>(
      await callMcp(server, token, { "MCP-Auth-Subject": "mallory", "MCP-Auth-Name": "Mallory", "MCP-Auth-Assertion": "forged" }),
    );

    expect(echoed.headers["mcp-auth-subject"]).not.toBe("mallory");
    expect(echoed.headers["mcp-auth-name"]).toBe("alice");
    expect(echoed.headers["mcp-auth-assertion"]).toBeUndefined();
  });

  it("exposes Mcp-Session-Id to a browser client", async () => {
    const server = startServer();
    const token = await accessToken(server);

    const response = await callMcp(server, token, { Origin: BROWSER_ORIGIN });

    expect(response.headers.get("Mcp-Session-Id")).toBe("echo-session");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(BROWSER_ORIGIN);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("Mcp-Session-Id");
  });

  it("answers a preflight with the MCP headers", async () => {
    const server = startServer();

    const response = await server.send("/mcp", {
      method: "OPTIONS",
      headers: {
        Origin: BROWSER_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id",
      },
    });

    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(BROWSER_ORIGIN);
    const allowed = response.headers.get("Access-Control-Allow-Headers")!.toLowerCase();
    for (const header of ["authorization", "content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"]) {
      expect(allowed).toContain(header);
    }
  });

  it("rejects a foreign Origin with 403", async () => {
    const server = startServer();
    const token = await accessToken(server);

    const response = await callMcp(server, token, { Origin: "https://evil.example" });
    const body = await readJson<{ error: string }>(response);

    expect(response.status).toBe(403);
    expect(body.error).toBe("access_denied");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("accepts an Origin from the allow-list", async () => {
    const server = startServer({ MCP_ALLOWED_ORIGINS: ["https://inspector.example"] });
    const token = await accessToken(server);

    const response = await callMcp(server, token, { Origin: "https://inspector.example" });

    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("https://inspector.example");
  });
});

describe("resources on another origin", () => {
  it("leaves their metadata to their own server", async () => {
    const server = startServer({ RESOURCES: ["https://mcp.example.com/mcp"] });

    const response = await server.send("/.well-known/oauth-protected-resource/mcp");
    const body = await readJson<{ error: string }>(response);

    expect(response.status).toBe(404);
    expect(body.error).toBe("not_found");
  });

  it("issues tokens for them", async () => {
    const server = startServer({ RESOURCES: ["https://mcp.example.com/mcp"] });
    const client = await registerClient(server, publicClientBody());

    const tokens = await issueTokens(server, client, { resource: "https://mcp.example.com/mcp" });
    const { payload } = await verifyAccessToken(server, tokens.access_token);

    expect(payload.aud).toBe("https://mcp.example.com/mcp");
  });
});
