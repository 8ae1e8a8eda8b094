import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import {
  CLIENT_ORIGIN,
  confidentialClientBody,
  fetchJwks,
  introspectToken,
  issueTokens,
  readTokenResponse,
  refreshTokens,
  registerClient,
  startServer,
  verifyAccessToken,
} from "./flow-helpers.js";

/** Generates an extractable ES256 key pair and returns its private JWK and RFC 7638 thumbprint. */
async function generateSigningKey(): Promise<{ jwk: JWK; kid: string }> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { jwk, kid: await calculateJwkThumbprint(jwk) };
}

function signingKeys(...keys: { jwk: JWK }[]): { SIGNING_KEYS: string } {
  return { SIGNING_KEYS: JSON.stringify(keys.map((key) => key.jwk)) };
}

describe("RFC 7517 published JWK Set", () => {
  it("publishes public ES256 keys only", async () => {
    const server = startServer();

    const { keys } = await fetchJwks(server);

    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key.kty).toBe("EC");
      expect(key.crv).toBe("P-256");
      expect(key.alg).toBe("ES256");
      expect(key.use).toBe("sig");
      expect(typeof key.kid).toBe("string");
      expect(key).not.toHaveProperty("d");
    }
  });

  it("allows caching and cross-origin reads", async () => {
    const server = startServer();

    const response = await server.send("/.well-known/jwks.json", { headers: { Origin: CLIENT_ORIGIN } });

    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=300");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("keeps the development key between requests", async () => {
    const server = startServer();

    const first = await fetchJwks(server);
    const second = await fetchJwks(server);

    expect(second).toEqual(first);
  });

  it("names a configured key by its RFC 7638 thumbprint", async () => {
    const key = await generateSigningKey();
    const server = startServer(signingKeys(key));

    const { keys } = await fetchJwks(server);

    expect(keys.map((published) => published.kid)).toEqual([key.kid]);
  });

  it("publishes only the public part of a configured key", async () => {
    const key = await generateSigningKey();
    const server = startServer(signingKeys(key));

    const { keys } = await fetchJwks(server);

    expect(keys[0]).toEqual({ kty: "EC", crv: "P-256", x: key.jwk.x, y: key.jwk.y, kid: key.kid, alg: "ES256", use: "sig" });
  });
});

describe("signing key rotation", () => {
  it("publishes every configured key, newest first", async () => {
    const oldKey = await generateSigningKey();
    const newKey = await generateSigningKey();
    const server = startServer(signingKeys(newKey, oldKey));

    const { keys } = await fetchJwks(server);

    expect(keys.map((key) => key.kid)).toEqual([newKey.kid, oldKey.kid]);
  });

  it("signs with the first configured key", async () => {
    const oldKey = await generateSigningKey();
    const newKey = await generateSigningKey();
    const server = startServer(signingKeys(newKey, oldKey));
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));

    const tokens = await issueTokens(server, client);

    expect(decodeProtectedHeader(tokens.access_token).kid).toBe(newKey.kid);
  });

  it("keeps tokens of the previous key valid", async () => {
    const oldKey = await generateSigningKey();
    const newKey = await generateSigningKey();
    const before = startServer(signingKeys(oldKey));
    const client = await registerClient(before, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(before, client);
    expect(decodeProtectedHeader(tokens.access_token).kid).toBe(oldKey.kid);

    const after = startServer(signingKeys(newKey, oldKey));

    const { protectedHeader } = await verifyAccessToken(after, tokens.access_token);
    expect(protectedHeader.kid).toBe(oldKey.kid);
    const introspection = (await (await introspectToken(after, client, tokens.access_token)).json()) as Record<string, unknown>;
    expect(introspection.active).toBe(true);
  });

  it("signs refreshed tokens with the new key", async () => {
    const oldKey = await generateSigningKey();
    const newKey = await generateSigningKey();
    const before = startServer(signingKeys(oldKey));
    const client = await registerClient(before, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(before, client);

    const after = startServer(signingKeys(newKey, oldKey));
    const refreshed = await readTokenResponse(await refreshTokens(after, client, tokens.refresh_token!));

    const { protectedHeader } = await verifyAccessToken(after, refreshed.access_token);
    expect(protectedHeader.kid).toBe(newKey.kid);
  });

  it("stops accepting tokens of a removed key", async () => {
    const oldKey = await generateSigningKey();
    const newKey = await generateSigningKey();
    const before = startServer(signingKeys(oldKey));
    const client = await registerClient(before, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(before, client);

    const after = startServer(signingKeys(newKey));

    await expect(verifyAccessToken(after, tokens.access_token)).rejects.toThrow();
    const introspection = await (await introspectToken(after, client, tokens.access_token)).json();
    expect(introspection).toEqual({ active: false });
  });
});
