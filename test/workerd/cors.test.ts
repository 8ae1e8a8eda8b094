import { describe, expect, it } from "vitest";
import { appWithConfig, bearer, checkBody, CLIENT_ORIGIN, readJson, registerClient, send, sendJson } from "./helpers.js";

/** Builds the OPTIONS request that a browser sends before a cross-origin `method` request. */
function preflight(method: string, requestHeaders: string, origin = CLIENT_ORIGIN): RequestInit {
  return {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": method,
      "Access-Control-Request-Headers": requestHeaders,
    },
  };
}

/** Splits a comma-separated header into lower-case names. */
function headerList(value: string | null): string[] {
  return (value ?? "").split(",").map((name) => name.trim().toLowerCase()).filter(Boolean);
}

describe("CORS for browser MCP clients", () => {
  it("allows the registration preflight", async () => {
    const response = await send("/register", preflight("POST", "content-type, mcp-protocol-version"));

    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(headerList(response.headers.get("Access-Control-Allow-Methods"))).toContain("post");
    expect(headerList(response.headers.get("Access-Control-Allow-Headers"))).toContain("content-type");
    expect(headerList(response.headers.get("Access-Control-Allow-Headers"))).toContain("mcp-protocol-version");
    expect(response.headers.get("Access-Control-Max-Age")).toBe("86400");
  });

  it("allows the registration POST after the preflight", async () => {
    const body = { redirect_uris: ["http://localhost:6274/oauth/callback"], token_endpoint_auth_method: "none" };

    const response = await sendJson(send, "/register", body, { headers: { "MCP-Protocol-Version": "2025-06-18" } });

    expect(response.status).toBe(201);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    await readJson(response);
  });

  it("allows the discovery preflight with MCP-Protocol-Version", async () => {
    const response = await send("/.well-known/oauth-authorization-server", preflight("GET", "mcp-protocol-version"));

    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(headerList(response.headers.get("Access-Control-Allow-Methods"))).toContain("get");
    expect(headerList(response.headers.get("Access-Control-Allow-Headers"))).toContain("mcp-protocol-version");
  });

  it("allows discovery with MCP-Protocol-Version", async () => {
    const response = await send("/.well-known/oauth-authorization-server", {
      headers: { "MCP-Protocol-Version": "2025-06-18" },
    });

    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    await readJson(response);
  });

  it("allows the client configuration preflight", async () => {
    const client = await registerClient({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" });

    for (const method of ["GET", "PUT", "DELETE"]) {
      const response = await send(client.registration_client_uri, preflight(method, "authorization, content-type"));

      expect(response.status, method).toBe(204);
      expect(response.headers.get("Access-Control-Allow-Origin"), method).toBe("*");
      expect(headerList(response.headers.get("Access-Control-Allow-Methods")), method).toContain(method.toLowerCase());
      expect(headerList(response.headers.get("Access-Control-Allow-Headers")), method).toContain("authorization");
    }
  });

  it("exposes WWW-Authenticate", async () => {
    const client = await registerClient({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" });

    const response = await send(client.registration_client_uri, { headers: bearer("not-the-token") });

    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer\b/);
    expect(headerList(response.headers.get("Access-Control-Expose-Headers"))).toContain("www-authenticate");
    await readJson(response);
  });

  it("keeps the authorization endpoint same-origin", async () => {
    const response = await send("/authorize?response_type=code&client_id=unknown");

    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
    await checkBody(response);
  });

  it("omits allow-origin in an authorization preflight", async () => {
    const response = await send("/authorize", preflight("GET", "content-type"));

    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
    await checkBody(response);
  });
});

describe("CORS_ALLOWED_ORIGINS", () => {
  const allowedOrigin = "http://allowed.test";
  const restricted = appWithConfig({ CORS_ALLOWED_ORIGINS: [allowedOrigin] });

  it("echoes an allowed origin", async () => {
    const response = await restricted("/.well-known/oauth-authorization-server", { headers: { Origin: allowedOrigin } });

    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(allowedOrigin);
    expect(headerList(response.headers.get("Vary"))).toContain("origin");
    await readJson(response);
  });

  it("omits allow-origin for another origin", async () => {
    const response = await restricted("/.well-known/oauth-authorization-server", { headers: { Origin: "http://other.test" } });

    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
    await readJson(response);
  });

  it("omits allow-origin in a preflight from another origin", async () => {
    const response = await restricted("/register", preflight("POST", "content-type", "http://other.test"));

    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("echoes an allowed origin on errors", async () => {
    const response = await restricted("/.well-known/unknown", { headers: { Origin: allowedOrigin } });

    expect(response.status).toBe(404);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(allowedOrigin);
    await readJson(response);
  });

  it("allows credentials when configured", async () => {
    const withCredentials = appWithConfig({ CORS_ALLOWED_ORIGINS: [allowedOrigin], CORS_ALLOW_CREDENTIALS: true });

    const response = await withCredentials("/.well-known/oauth-authorization-server", { headers: { Origin: allowedOrigin } });

    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(allowedOrigin);
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    await readJson(response);
  });
});

describe("CORS on unexpected failures", () => {
  it("lets a browser read a 500", async () => {
    // Without its D1 binding the Worker fails inside the handler, as it would on a storage outage.
    const broken = appWithConfig({ DB: undefined });

    const response = await sendJson(broken, "/register", { redirect_uris: ["http://127.0.0.1:3000/callback"] });
    const body = await readJson<{ error: string; error_description: string }>(response);

    expect(response.status).toBe(500);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(body.error).toBe("server_error");
    expect(body.error_description).toBe("The server encountered an unexpected error.");
  });
});
