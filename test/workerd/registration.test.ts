import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { registrationCases } from "./fixtures/registrations.js";
import {
  appWithConfig,
  type ClientInformation,
  expectOAuthError,
  ISSUER,
  NOW,
  readJson,
  registerClient,
  send,
  sendJson,
} from "./helpers.js";

const REDIRECT_URI = "https://client.example.com/callback";

interface ErrorCase {
  name: string;
  body: Record<string, unknown>;
  error: string;
  description: string;
}

/** Registers `redirectUris` for a public client and returns the response. */
function registerRedirectUris(redirectUris: unknown): Promise<Response> {
  return sendJson(send, "/register", { redirect_uris: redirectUris, token_endpoint_auth_method: "none" });
}

describe("RFC 7591 dynamic client registration", () => {
  describe.each(registrationCases)("$name", ({ body }) => {
    it("registers and echoes the client metadata", async () => {
      const response = await sendJson(send, "/register", body);

      expect(response.status).toBe(201);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      const client = await readJson<ClientInformation>(response);
      for (const [field, value] of Object.entries(body)) {
        expect(client[field], field).toEqual(value);
      }
    });

    it("returns the credentials its auth method needs", async () => {
      const client = await registerClient(body);

      expect(client.client_id).toMatch(/^[\w-]{16,}$/);
      expect(client.registration_access_token).toMatch(/^[\w-]{32,}$/);
      expect(client.registration_client_uri).toBe(`${ISSUER}/register/${client.client_id}`);
      if (body.token_endpoint_auth_method === "none") {
        expect(client).not.toHaveProperty("client_secret");
        expect(client).not.toHaveProperty("client_secret_expires_at");
      } else {
        expect(client.client_secret).toMatch(/^[\w-]{32,}$/);
        expect(client.client_secret_expires_at).toBe(0);
      }
    });
  });

  it("fills in the RFC 7591 defaults", async () => {
    const client = await registerClient({ redirect_uris: [REDIRECT_URI] });

    expect(client.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(client.grant_types).toEqual(["authorization_code"]);
    expect(client.response_types).toEqual(["code"]);
    expect(client.scope).toBe("mcp");
    expect(client.client_secret).toMatch(/^[\w-]{32,}$/);
  });

  it("issues a new client_id each time", async () => {
    const body = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" };

    const first = await registerClient(body);
    const second = await registerClient(body);

    expect(second.client_id).not.toBe(first.client_id);
    expect(second.registration_access_token).not.toBe(first.registration_access_token);
  });

  it("stamps client_id_issued_at from the clock", async () => {
    const client = await registerClient({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }, appWithConfig({}));

    expect(client.client_id_issued_at).toBe(NOW);
  });

  it("expires the client secret after CLIENT_SECRET_TTL", async () => {
    const client = await registerClient(
      { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_post" },
      appWithConfig({ CLIENT_SECRET_TTL: 3600 }),
    );

    expect(client.client_secret_expires_at).toBe(NOW + 3600);
  });

  it("treats a null field as absent", async () => {
    const client = await registerClient({
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: null,
      client_name: null,
      scope: null,
    });

    expect(client.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(client).not.toHaveProperty("client_name");
    expect(client.scope).toBe("mcp");
  });

  it("ignores unknown fields", async () => {
    const client = await registerClient({
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      example_extension: "value",
      "client_name#fr": "Client d'exemple",
    });

    expect(client).not.toHaveProperty("example_extension");
    expect(client).not.toHaveProperty("client_name#fr");
  });

  it("accepts a scope it supports", async () => {
    const client = await registerClient({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", scope: "mcp" });

    expect(client.scope).toBe("mcp");
  });

  describe("loopback and private-use redirect URIs", () => {
    it.each([
      ["localhost with a port", "http://localhost:1234/cb"],
      ["127.0.0.1 without a port", "http://127.0.0.1/cb"],
      ["IPv6 loopback with a port", "http://[::1]:8080/cb"],
      ["private-use scheme with an authority", "cursor://anysphere.cursor-mcp/oauth/callback"],
      ["private-use scheme in reverse domain form", "com.example.app:/callback"],
    ])("accepts %s", async (_name, redirectUri) => {
      const response = await registerRedirectUris([redirectUri]);

      expect(response.status).toBe(201);
      const client = await readJson<ClientInformation>(response);
      expect(client.redirect_uris).toEqual([redirectUri]);
    });
  });

  describe("invalid redirect URIs", () => {
    it.each([
      ["a javascript: URI", "javascript:alert(1)", "must not use the javascript: scheme"],
      ["an upper-case JAVASCRIPT: URI", "JAVASCRIPT:alert(1)", "must not use the javascript: scheme"],
      ["a data: URI", "data:text/html,<script>alert(1)</script>", "must not use the data: scheme"],
      ["a file: URI", "file:///etc/passwd", "must not use the file: scheme"],
      ["a vbscript: URI", "vbscript:msgbox(1)", "must not use the vbscript: scheme"],
      ["a blob: URI", "blob:https://client.example.com/4a3c5f0e-7a51-4bd4-8a0e-2f1c3d7b9e60", "must not use the blob: scheme"],
      ["http on a public host", "http://client.example.com/callback", "must use https unless the host is loopback"],
      ["http on a host that starts with localhost", "http://localhost.example.com/callback", "must use https unless the host is loopback"],
      ["a fragment", "https://client.example.com/callback#section", "must not contain a fragment"],
      ["an empty fragment", "https://client.example.com/callback#", "must not contain a fragment"],
      ["a relative URI", "/callback", "is not an absolute URI"],
      ["user information", "https://user:password@client.example.com/callback", "must not contain user information"],
    ])("rejects %s", async (_name, redirectUri, problem) => {
      const response = await registerRedirectUris([redirectUri]);

      await expectOAuthError(response, {
        status: 400,
        error: "invalid_redirect_uri",
        description: `"redirect_uris[0]" ${problem}`,
      });
    });

    it("names the position of the invalid URI", async () => {
      const response = await registerRedirectUris([REDIRECT_URI, "javascript:alert(1)"]);

      await expectOAuthError(response, {
        status: 400,
        error: "invalid_redirect_uri",
        description: '"redirect_uris[1]" must not use the javascript: scheme',
      });
    });

    it("rejects a redirect URI that is not a string", async () => {
      const response = await registerRedirectUris([42]);

      await expectOAuthError(response, {
        status: 400,
        error: "invalid_redirect_uri",
        description: '"redirect_uris[0]" must be a string',
      });
    });
  });

  describe("invalid client metadata", () => {
    const tooManyUris = Array.from({ length: 21 }, (_, index) => `https://client.example.com/callback/${index}`);

    const cases: ErrorCase[] = [
      {
        name: "missing redirect_uris",
        body: { token_endpoint_auth_method: "none" },
        error: "invalid_client_metadata",
        description: '"redirect_uris" is required and must be an array of URIs',
      },
      {
        name: "empty redirect_uris",
        body: { redirect_uris: [] },
        error: "invalid_client_metadata",
        description: '"redirect_uris" must contain at least one URI',
      },
      {
        name: "more than MAX_REDIRECT_URIS redirect URIs",
        body: { redirect_uris: tooManyUris },
        error: "invalid_client_metadata",
        description: '"redirect_uris" must contain at most 20 URIs',
      },
      {
        name: "an unsupported grant type",
        body: { redirect_uris: [REDIRECT_URI], grant_types: ["client_credentials"] },
        error: "invalid_client_metadata",
        description: '"grant_types[0]" must be authorization_code or refresh_token',
      },
      {
        name: "grant_types without authorization_code",
        body: { redirect_uris: [REDIRECT_URI], grant_types: ["refresh_token"] },
        error: "invalid_client_metadata",
        description: '"grant_types" must include "authorization_code", the only grant that issues tokens to a new client',
      },
      {
        name: "the token response type",
        body: { redirect_uris: [REDIRECT_URI], response_types: ["token"] },
        error: "invalid_client_metadata",
        description: '"response_types[0]" must be "code"',
      },
      {
        name: "an unknown token_endpoint_auth_method",
        body: { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "private_key_jwt" },
        error: "invalid_client_metadata",
        description: '"token_endpoint_auth_method" must be one of none, client_secret_basic, client_secret_post',
      },
      {
        name: "an http client_uri",
        body: { redirect_uris: [REDIRECT_URI], client_uri: "http://client.example.com" },
        error: "invalid_client_metadata",
        description: '"client_uri" must be an https URL',
      },
      {
        name: "contacts as a string",
        body: { redirect_uris: [REDIRECT_URI], contacts: "admin@client.example.com" },
        error: "invalid_client_metadata",
        description: '"contacts" must be an array of strings',
      },
      {
        name: "a contact that is not a string",
        body: { redirect_uris: [REDIRECT_URI], contacts: [42] },
        error: "invalid_client_metadata",
        description: '"contacts[0]" must be a string',
      },
      {
        name: "an unsupported scope",
        body: { redirect_uris: [REDIRECT_URI], scope: "mcp admin" },
        error: "invalid_client_metadata",
        description: '"scope" must contain only supported scopes, separated by single spaces: mcp',
      },
      {
        name: "an empty client_name",
        body: { redirect_uris: [REDIRECT_URI], client_name: "" },
        error: "invalid_client_metadata",
        description: '"client_name" must not be empty',
      },
      {
        name: "an empty software_id",
        body: { redirect_uris: [REDIRECT_URI], software_id: "" },
        error: "invalid_client_metadata",
        description: '"software_id" must not be empty',
      },
      {
        name: "an empty software_version",
        body: { redirect_uris: [REDIRECT_URI], software_version: "" },
        error: "invalid_client_metadata",
        description: '"software_version" must not be empty',
      },
      {
        name: "an empty contact",
        body: { redirect_uris: [REDIRECT_URI], contacts: [""] },
        error: "invalid_client_metadata",
        description: '"contacts[0]" must not be empty',
      },
    ];

    it.each(cases)("rejects $name", async ({ body, error, description }) => {
      const response = await sendJson(send, "/register", body);

      await expectOAuthError(response, { status: 400, error, description });
    });
  });
});

describe("registration request handling", () => {
  it("rejects malformed JSON", async () => {
    const response = await send("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"redirect_uris": [',
    });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: "The request body is not valid JSON.",
    });
  });

  it("rejects a JSON array body", async () => {
    const response = await sendJson(send, "/register", [{ redirect_uris: [REDIRECT_URI] }]);

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: "The request body must be a JSON object.",
    });
  });

  it.each(["text/plain", "application/x-www-form-urlencoded"])("rejects a %s body", async (contentType) => {
    const response = await send("/register", {
      method: "POST",
      headers: { "Content-Type": contentType },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI] }),
    });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: 'The request body must be JSON with "Content-Type: application/json".',
    });
  });

  it("accepts a charset parameter", async () => {
    const response = await send("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json; charset=utf-8" },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }),
    });

    expect(response.status).toBe(201);
    await readJson(response);
  });

  describe("MAX_REQUEST_BYTES", () => {
    /** Builds a valid registration body, padded with an unknown field to exactly `bytes` bytes. */
    function bodyOfSize(bytes: number): string {
      const empty = JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", padding: "" });
      return JSON.stringify({
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
        padding: "x".repeat(bytes - empty.length),
      });
    }

    function post(body: string): Promise<Response> {
      return send("/register", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    }

    it("accepts a body of exactly 16 KiB", async () => {
      const response = await post(bodyOfSize(16384));

      expect(response.status).toBe(201);
      await readJson(response);
    });

    it("rejects a body over 16 KiB", async () => {
      const response = await post(bodyOfSize(16385));

      await expectOAuthError(response, {
        status: 413,
        error: "invalid_request",
        description: "The request body must be at most 16384 bytes.",
      });
    });
  });

  it.each(["GET", "PUT", "DELETE"])("rejects %s on the registration endpoint", async (method) => {
    const response = await send("/register", { method });

    expect(response.headers.get("Allow")).toBe("POST");
    await expectOAuthError(response, {
      status: 405,
      error: "method_not_allowed",
      description: `${method} is not allowed here; use POST.`,
    });
  });

  it("returns a JSON 404 for an unknown path", async () => {
    const response = await send("/.well-known/unknown");

    await expectOAuthError(response, {
      status: 404,
      error: "not_found",
      description: "No endpoint at /.well-known/unknown.",
    });
  });
});

describe("client storage", () => {
  it("stores secrets only as hashes", async () => {
    const client = await registerClient({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_post" });

    const row = await env.DB.prepare("SELECT * FROM clients WHERE client_id = ?").bind(client.client_id).first();

    expect(row).not.toBeNull();
    expect(row!.client_secret_hash).toEqual(expect.any(String));
    expect(row!.registration_access_token_hash).toEqual(expect.any(String));
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(client.client_secret!);
    expect(stored).not.toContain(client.registration_access_token);
  });
});
