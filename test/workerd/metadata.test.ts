import { calculateJwkThumbprint, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import {
  appWithConfig,
  bearer,
  checkBody,
  type ClientInformation,
  ISSUER,
  readJson,
  registerClient,
  send,
} from "./helpers.js";

const METADATA_PATH = "/.well-known/oauth-authorization-server";

/** A P-256 key generated for these tests only, so it signs nothing outside them. */
const TEST_SIGNING_KEY: JWK = {
  kty: "EC",
  crv: "P-256",
  x: "JlZM3JfmXjPjIqJRPHAa7Y4l8ZVfdAouES8w1OMDo5A",
  y: "awDqoa442ZiB9G8QMjWvspDyq7G_jITRaHBQLHP-hOo",
  d: "a5Mgc69Ksb10AVJKrnuky0GhEB23gC1C4nPxMQi_J_Y",
};

async function fetchMetadata(): Promise<Record<string, unknown>> {
  const response = await send(METADATA_PATH);
  expect(response.status).toBe(200);
  return readJson(response);
}

/** Lists the metadata fields whose values are URLs of this server, with their values. */
function endpointFields(metadata: Record<string, unknown>): [string, string][] {
  return Object.entries(metadata)
    .filter(([field]) => field.endsWith("_endpoint") || field === "jwks_uri")
    .map(([field, value]) => [field, String(value)]);
}

describe("RFC 8414 authorization server metadata", () => {
  it("serves the metadata as cacheable JSON", async () => {
    const response = await send(METADATA_PATH);

    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(response.headers.get("Cache-Control")).toMatch(/^public\b/);
    expect(response.headers.get("Cache-Control")).toMatch(/\bmax-age=\d+/);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    await readJson(response);
  });

  it("names the configured issuer byte for byte", async () => {
    const metadata = await fetchMetadata();

    expect(metadata.issuer).toBe(ISSUER);
  });

  it("starts every endpoint with the issuer", async () => {
    const metadata = await fetchMetadata();
    const endpoints = endpointFields(metadata);

    expect(endpoints.map(([field]) => field)).toEqual(
      expect.arrayContaining(["authorization_endpoint", "token_endpoint", "registration_endpoint", "jwks_uri"]),
    );
    for (const [field, url] of endpoints) {
      expect(url.startsWith(`${ISSUER}/`), `${field} is ${url}`).toBe(true);
    }
  });

  it("advertises the code flow with S256 only", async () => {
    const metadata = await fetchMetadata();

    expect(metadata.response_types_supported).toEqual(["code"]);
    expect(metadata.code_challenge_methods_supported).toEqual(["S256"]);
    expect(metadata.grant_types_supported).toEqual(["authorization_code", "refresh_token"]);
    expect(metadata.scopes_supported).toEqual(["mcp"]);
  });

  it("advertises the registration auth methods", async () => {
    const metadata = await fetchMetadata();

    expect(metadata.token_endpoint_auth_methods_supported).toEqual(["none", "client_secret_basic", "client_secret_post"]);
  });

  it("advertises a registration endpoint that registers", async () => {
    const metadata = await fetchMetadata();
    const response = await send(String(metadata.registration_endpoint), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" }),
    });

    expect(response.status).toBe(201);
    await readJson(response);
  });

  // Metadata must list only what this server implements, so every advertised URL has a route.
  it("serves every advertised endpoint", async () => {
    const metadata = await fetchMetadata();

    for (const [field, url] of endpointFields(metadata)) {
      const init: RequestInit =
        field === "authorization_endpoint" || field === "jwks_uri"
          ? {}
          : { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "" };
      const response = await send(url, init);

      expect(response.status, `${field} ${url}`).not.toBe(404);
      expect(response.status, `${field} ${url}`).not.toBe(405);
      await checkBody(response);
    }
  });

  describe("issuer with a path", () => {
    const tenantIssuer = "http://127.0.0.1:8787/tenant";
    const tenant = appWithConfig({ ISSUER: tenantIssuer });

    it("serves the path-inserted metadata", async () => {
      const response = await tenant(`${METADATA_PATH}/tenant`);

      expect(response.status).toBe(200);
      const metadata = await readJson(response);
      expect(metadata.issuer).toBe(tenantIssuer);
      expect(metadata.registration_endpoint).toBe(`${tenantIssuer}/register`);
      for (const [field, url] of endpointFields(metadata)) {
        expect(url.startsWith(`${tenantIssuer}/`), `${field} is ${url}`).toBe(true);
      }
    });

    it("registers under the issuer path", async () => {
      const client = await registerClient(
        { redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" },
        (path, init) => tenant(path === "/register" ? "/tenant/register" : path, init),
      );

      expect(client.registration_client_uri).toBe(`${tenantIssuer}/register/${client.client_id}`);
      const response = await tenant(client.registration_client_uri, { headers: bearer(client.registration_access_token) });
      expect(response.status).toBe(200);
      const stored = await readJson<ClientInformation>(response);
      expect(stored.client_id).toBe(client.client_id);
    });

    it("serves the JWKS at the advertised jwks_uri", async () => {
      const metadata = await readJson(await tenant(`${METADATA_PATH}/tenant`));

      const response = await tenant(String(metadata.jwks_uri));

      expect(response.status).toBe(200);
      await readJson(response);
    });

    it("keeps its authorization endpoint same-origin", async () => {
      const response = await tenant("/tenant/authorize?response_type=code&client_id=unknown");

      expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
      await checkBody(response);
    });
  });
});

describe("RFC 7517 JSON Web Key Set", () => {
  it("publishes EC public keys only", async () => {
    const response = await send("/.well-known/jwks.json");

    expect(response.status).toBe(200);
    const jwks = await readJson<{ keys: JWK[] }>(response);
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key.kty).toBe("EC");
      expect(key.crv).toBe("P-256");
      expect(key.alg).toBe("ES256");
      expect(key.use).toBe("sig");
      expect(key.kid).toEqual(expect.any(String));
      expect(key).not.toHaveProperty("d");
    }
  });

  it("is cacheable and readable cross-origin", async () => {
    const response = await send("/.well-known/jwks.json");

    expect(response.headers.get("Cache-Control")).toMatch(/^public\b/);
    expect(response.headers.get("Cache-Control")).toMatch(/\bmax-age=\d+/);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    await readJson(response);
  });

  it("is the document that jwks_uri names", async () => {
    const metadata = await fetchMetadata();

    const response = await send(String(metadata.jwks_uri));

    expect(response.status).toBe(200);
    await readJson(response);
  });

  it("publishes SIGNING_KEYS without d", async () => {
    const withKeys = appWithConfig({ SIGNING_KEYS: JSON.stringify([TEST_SIGNING_KEY]) });

    const response = await withKeys("/.well-known/jwks.json");

    expect(response.status).toBe(200);
    const jwks = await readJson<{ keys: JWK[] }>(response);
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(key).not.toHaveProperty("d");
    expect(key!.x).toBe(TEST_SIGNING_KEY.x);
    expect(key!.y).toBe(TEST_SIGNING_KEY.y);
    expect(key!.kid).toBe(await calculateJwkThumbprint(TEST_SIGNING_KEY));
  });
});
