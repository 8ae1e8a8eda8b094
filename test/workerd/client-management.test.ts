import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  bearer,
  type ClientInformation,
  expectOAuthError,
  readJson,
  registerClient,
  send,
  sendJson,
} from "./helpers.js";

const REDIRECT_URI = "http://127.0.0.1:33418/callback";

const MISSING_TOKEN = "A registration access token is required as a Bearer token.";
const INVALID_TOKEN = "The registration access token is invalid for this client.";

function registerPublicClient(): Promise<ClientInformation> {
  return registerClient({ client_name: "Public client", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" });
}

function registerConfidentialClient(): Promise<ClientInformation> {
  return registerClient({
    client_name: "Confidential client",
    redirect_uris: ["https://client.example.com/callback"],
    token_endpoint_auth_method: "client_secret_post",
  });
}

function read(client: ClientInformation, token = client.registration_access_token): Promise<Response> {
  return send(client.registration_client_uri, { headers: bearer(token) });
}

function update(client: ClientInformation, body: Record<string, unknown>, token = client.registration_access_token) {
  return sendJson(send, client.registration_client_uri, body, { method: "PUT", headers: bearer(token) });
}

async function storedSecretHash(clientId: string): Promise<unknown> {
  const row = await env.DB.prepare("SELECT client_secret_hash FROM clients WHERE client_id = ?").bind(clientId).first();
  return row?.client_secret_hash;
}

async function expectInvalidToken(response: Response): Promise<void> {
  expect(response.headers.get("WWW-Authenticate")).toBe(
    `Bearer error="invalid_token", error_description="${INVALID_TOKEN}"`,
  );
  await expectOAuthError(response, { status: 401, error: "invalid_token", description: INVALID_TOKEN });
}

describe("RFC 7592 client management", () => {
  describe("read", () => {
    it("returns the registered client", async () => {
      const client = await registerPublicClient();

      const response = await read(client);

      expect(response.status).toBe(200);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      const body = await readJson<ClientInformation>(response);
      expect(body.client_id).toBe(client.client_id);
      expect(body.client_id_issued_at).toBe(client.client_id_issued_at);
      expect(body.registration_client_uri).toBe(client.registration_client_uri);
      expect(body.client_name).toBe("Public client");
      expect(body.redirect_uris).toEqual([REDIRECT_URI]);
      expect(body.token_endpoint_auth_method).toBe("none");
      expect(body).not.toHaveProperty("client_secret");
    });

    it("returns client_secret_expires_at of a confidential client", async () => {
      const client = await registerConfidentialClient();

      const response = await read(client);

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body.client_secret_expires_at).toBe(0);
    });

    // RFC 7592 §3 makes registration_access_token REQUIRED in every client information response.
    it("returns a usable registration access token", async () => {
      const client = await registerPublicClient();

      const response = await read(client);

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body.registration_access_token).toEqual(expect.any(String));
      const next = await read(client, body.registration_access_token);
      expect(next.status).toBe(200);
      await readJson(next);
    });
  });

  describe("registration access token", () => {
    it.each(["GET", "PUT", "DELETE"])("requires a token for %s", async (method) => {
      const client = await registerPublicClient();

      const response = await send(client.registration_client_uri, { method });

      expect(response.headers.get("WWW-Authenticate")).toBe("Bearer");
      await expectOAuthError(response, { status: 401, error: "invalid_token", description: MISSING_TOKEN });
    });

    it("requires the Bearer scheme", async () => {
      const client = await registerPublicClient();

      const response = await send(client.registration_client_uri, {
        headers: { Authorization: `Basic ${btoa(`${client.client_id}:${client.registration_access_token}`)}` },
      });

      expect(response.headers.get("WWW-Authenticate")).toBe("Bearer");
      await expectOAuthError(response, { status: 401, error: "invalid_token", description: MISSING_TOKEN });
    });

    it.each(["GET", "PUT", "DELETE"])("rejects a wrong token for %s", async (method) => {
      const client = await registerPublicClient();

      const response = await send(client.registration_client_uri, { method, headers: bearer("wrong-token") });

      await expectInvalidToken(response);
    });

    it("rejects another client's token", async () => {
      const client = await registerPublicClient();
      const other = await registerPublicClient();

      const response = await read(client, other.registration_access_token);

      await expectInvalidToken(response);
    });

    it("rejects an unknown client_id", async () => {
      const client = await registerPublicClient();

      const response = await send(`${client.registration_client_uri}-unknown`, {
        headers: bearer(client.registration_access_token),
      });

      await expectInvalidToken(response);
    });
  });

  describe("update", () => {
    it("replaces the client metadata", async () => {
      const client = await registerPublicClient();
      const redirectUris = ["http://localhost:8080/callback", "cursor://anysphere.cursor-mcp/oauth/callback"];

      const response = await update(client, {
        client_id: client.client_id,
        client_name: "Renamed client",
        redirect_uris: redirectUris,
        token_endpoint_auth_method: "none",
      });

      expect(response.status).toBe(200);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      const body = await readJson<ClientInformation>(response);
      expect(body.client_id).toBe(client.client_id);
      expect(body.client_name).toBe("Renamed client");
      expect(body.redirect_uris).toEqual(redirectUris);
      // The update rotated the registration access token; the client must use the new one.
      const stored = await readJson<ClientInformation>(await read(client, body.registration_access_token));
      expect(stored.client_name).toBe("Renamed client");
      expect(stored.redirect_uris).toEqual(redirectUris);
    });

    it("drops fields left out of the update", async () => {
      const client = await registerPublicClient();

      const response = await update(client, {
        client_id: client.client_id,
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
      });

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body).not.toHaveProperty("client_name");
    });

    // RFC 7592 §3 makes registration_access_token REQUIRED in every client information response.
    it("returns a usable registration access token", async () => {
      const client = await registerPublicClient();

      const response = await update(client, {
        client_id: client.client_id,
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
      });

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body.registration_access_token).toEqual(expect.any(String));
      const next = await read(client, body.registration_access_token);
      expect(next.status).toBe(200);
      await readJson(next);
    });

    it("requires client_id in the body", async () => {
      const client = await registerPublicClient();

      const response = await update(client, { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" });

      await expectOAuthError(response, {
        status: 400,
        error: "invalid_request",
        description: `"client_id" must be present and equal the client's "client_id".`,
      });
    });

    it("rejects another client_id in the body", async () => {
      const client = await registerPublicClient();
      const other = await registerPublicClient();

      const response = await update(client, {
        client_id: other.client_id,
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "none",
      });

      await expectOAuthError(response, {
        status: 400,
        error: "invalid_request",
        description: `"client_id" must be present and equal the client's "client_id".`,
      });
    });

    it("validates the new metadata", async () => {
      const client = await registerPublicClient();

      const response = await update(client, {
        client_id: client.client_id,
        redirect_uris: ["javascript:alert(1)"],
        token_endpoint_auth_method: "none",
      });

      await expectOAuthError(response, {
        status: 400,
        error: "invalid_redirect_uri",
        description: '"redirect_uris[0]" must not use the javascript: scheme',
      });
    });

    it("issues a secret to a newly confidential client", async () => {
      const client = await registerPublicClient();

      const response = await update(client, {
        client_id: client.client_id,
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "client_secret_post",
      });

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body.token_endpoint_auth_method).toBe("client_secret_post");
      expect(body.client_secret).toMatch(/^[\w-]{32,}$/);
      expect(body.client_secret_expires_at).toBe(0);
      expect(await storedSecretHash(client.client_id)).toEqual(expect.any(String));
    });

    it("keeps the secret of a confidential client", async () => {
      const client = await registerConfidentialClient();
      const hashBefore = await storedSecretHash(client.client_id);

      const response = await update(client, {
        client_id: client.client_id,
        redirect_uris: ["https://client.example.com/callback"],
        token_endpoint_auth_method: "client_secret_basic",
      });

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body).not.toHaveProperty("client_secret");
      expect(body.client_secret_expires_at).toBe(0);
      expect(await storedSecretHash(client.client_id)).toBe(hashBefore);
    });

    it("accepts the current client_secret", async () => {
      const client = await registerConfidentialClient();

      const response = await update(client, {
        client_id: client.client_id,
        client_secret: client.client_secret,
        redirect_uris: ["https://client.example.com/callback"],
        token_endpoint_auth_method: "client_secret_post",
      });

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body).not.toHaveProperty("client_secret");
    });

    it("rejects a client_secret that does not match", async () => {
      const client = await registerConfidentialClient();

      const response = await update(client, {
        client_id: client.client_id,
        client_secret: "a-secret-the-client-chose",
        redirect_uris: ["https://client.example.com/callback"],
        token_endpoint_auth_method: "client_secret_post",
      });

      await expectOAuthError(response, {
        status: 400,
        error: "invalid_request",
        description: `"client_secret" does not match the client's secret.`,
      });
    });

    it("removes the secret of a newly public client", async () => {
      const client = await registerConfidentialClient();

      const response = await update(client, {
        client_id: client.client_id,
        redirect_uris: ["https://client.example.com/callback"],
        token_endpoint_auth_method: "none",
      });

      expect(response.status).toBe(200);
      const body = await readJson<ClientInformation>(response);
      expect(body).not.toHaveProperty("client_secret");
      expect(body).not.toHaveProperty("client_secret_expires_at");
      expect(await storedSecretHash(client.client_id)).toBeNull();
    });
  });

  describe("delete", () => {
    it("deletes the client", async () => {
      const client = await registerPublicClient();

      const response = await send(client.registration_client_uri, {
        method: "DELETE",
        headers: bearer(client.registration_access_token),
      });

      expect(response.status).toBe(204);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(await response.text()).toBe("");
    });

    it("invalidates the token of a deleted client", async () => {
      const client = await registerPublicClient();
      const deleted = await send(client.registration_client_uri, {
        method: "DELETE",
        headers: bearer(client.registration_access_token),
      });
      expect(deleted.status).toBe(204);

      const response = await read(client);

      await expectInvalidToken(response);
    });

    it("removes the stored client", async () => {
      const client = await registerPublicClient();

      await send(client.registration_client_uri, { method: "DELETE", headers: bearer(client.registration_access_token) });

      const row = await env.DB.prepare("SELECT client_id FROM clients WHERE client_id = ?").bind(client.client_id).first();
      expect(row).toBeNull();
    });
  });

  it("rejects POST on the client configuration endpoint", async () => {
    const client = await registerPublicClient();

    const response = await sendJson(send, client.registration_client_uri, {}, { headers: bearer(client.registration_access_token) });

    expect(response.headers.get("Allow")).toBe("GET, HEAD, PUT, DELETE");
    await expectOAuthError(response, {
      status: 405,
      error: "method_not_allowed",
      description: "POST is not allowed here; use GET, HEAD, PUT, DELETE.",
    });
  });
});
