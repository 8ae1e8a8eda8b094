import { generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import {
  CLIENT_AUTHENTICATION_FAILED,
  confidentialClientBody,
  expectOAuthError,
  INVALID_GRANT,
  introspectToken,
  ISSUER,
  issueTokens,
  publicClientBody,
  readTokenResponse,
  refreshTokens,
  registerClient,
  RESOURCE,
  revokeToken,
  START_TIME,
  startServer,
  verifyAccessToken,
} from "./flow-helpers.js";

/** Reads an introspection response that must be a 200. */
async function readIntrospection(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as Record<string, unknown>;
}

describe("RFC 7009 token revocation", () => {
  it("revokes a refresh token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    const response = await revokeToken(server, client, tokens.refresh_token!, { token_type_hint: "refresh_token" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");

    const refresh = await refreshTokens(server, client, tokens.refresh_token!);
    await expectOAuthError(refresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("sends no-store and CORS headers", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    const response = await revokeToken(server, client, tokens.refresh_token!);

    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("ends the access tokens of a revoked refresh token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    await revokeToken(server, client, tokens.refresh_token!);

    const introspection = await readIntrospection(await introspectToken(server, client, tokens.access_token));
    expect(introspection).toEqual({ active: false });
  });

  it("revokes an access token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const tokens = await issueTokens(server, client);

    const response = await revokeToken(server, client, tokens.access_token, { token_type_hint: "access_token" });
    expect(response.status).toBe(200);

    const introspection = await readIntrospection(await introspectToken(server, client, tokens.access_token));
    expect(introspection).toEqual({ active: false });
  });

  it("revokes the grant of a revoked access token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    await revokeToken(server, client, tokens.access_token);

    const refresh = await refreshTokens(server, client, tokens.refresh_token!);
    await expectOAuthError(refresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("finds the token despite a wrong hint", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    const response = await revokeToken(server, client, tokens.refresh_token!, { token_type_hint: "access_token" });
    expect(response.status).toBe(200);

    const refresh = await refreshTokens(server, client, tokens.refresh_token!);
    await expectOAuthError(refresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("lets a public client revoke its own token", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const tokens = await issueTokens(server, client);

    const response = await revokeToken(server, client, tokens.refresh_token!);
    expect(response.status).toBe(200);

    const refresh = await refreshTokens(server, client, tokens.refresh_token!);
    await expectOAuthError(refresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("returns 200 for an unknown token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));

    const response = await revokeToken(server, client, "unknown-token");

    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("returns 200 for a repeated revocation", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);
    await revokeToken(server, client, tokens.refresh_token!);

    const response = await revokeToken(server, client, tokens.refresh_token!);

    expect(response.status).toBe(200);
  });

  it("leaves another client's refresh token alone", async () => {
    const server = startServer();
    const owner = await registerClient(server, publicClientBody());
    const other = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, owner);

    const response = await revokeToken(server, other, tokens.refresh_token!);
    expect(response.status).toBe(200);

    const refresh = await refreshTokens(server, owner, tokens.refresh_token!);
    expect(refresh.status).toBe(200);
  });

  it("leaves another client's access token alone", async () => {
    const server = startServer();
    const owner = await registerClient(server, confidentialClientBody("client_secret_post"));
    const other = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, owner);

    const response = await revokeToken(server, other, tokens.access_token);
    expect(response.status).toBe(200);

    const introspection = await readIntrospection(await introspectToken(server, owner, tokens.access_token));
    expect(introspection.active).toBe(true);
  });

  it("rejects a missing token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));

    const response = await revokeToken(server, client, "unused", { token: undefined });

    await expectOAuthError(response, { status: 400, error: "invalid_request", description: '"token" is missing.' });
  });

  it("rejects a wrong client secret", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    const response = await revokeToken(server, { ...client, client_secret: "wrong-secret" }, tokens.refresh_token!);
    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });

    const refresh = await refreshTokens(server, client, tokens.refresh_token!);
    expect(refresh.status).toBe(200);
  });
});

describe("RFC 7662 token introspection", () => {
  it("describes an active access token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);
    const { payload } = await verifyAccessToken(server, tokens.access_token);

    const introspection = await readIntrospection(await introspectToken(server, client, tokens.access_token));

    expect(introspection.active).toBe(true);
    expect(introspection.scope).toBe("mcp");
    expect(introspection.client_id).toBe(client.client_id);
    expect(introspection.token_type).toBe("Bearer");
    expect(introspection.exp).toBe(START_TIME + 3600);
    expect(introspection.iat).toBe(START_TIME);
    expect(introspection.sub).toBe(payload.sub);
    expect(introspection.aud).toBe(RESOURCE);
    expect(introspection.iss).toBe(ISSUER);
    expect(introspection.jti).toBe(payload.jti);
  });

  it("describes an active refresh token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const tokens = await issueTokens(server, client);
    const { payload } = await verifyAccessToken(server, tokens.access_token);

    const introspection = await readIntrospection(
      await introspectToken(server, client, tokens.refresh_token!, { token_type_hint: "refresh_token" }),
    );

    expect(introspection.active).toBe(true);
    expect(introspection.scope).toBe("mcp");
    expect(introspection.client_id).toBe(client.client_id);
    expect(introspection.exp).toBe(START_TIME + 2_592_000);
    expect(introspection.sub).toBe(payload.sub);
    expect(introspection.aud).toBe(RESOURCE);
    expect(introspection.iss).toBe(ISSUER);
  });

  it("sends no-store and CORS headers", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    const response = await introspectToken(server, client, tokens.access_token);

    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("rejects a public client", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const tokens = await issueTokens(server, client);

    const response = await introspectToken(server, client, tokens.access_token);

    await expectOAuthError(response, {
      status: 401,
      error: "invalid_client",
      description: "Introspection requires a client that authenticates with a secret.",
    });
  });

  it("rejects a wrong client secret", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    const response = await introspectToken(server, { ...client, client_secret: "wrong-secret" }, tokens.access_token);

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("reports tokens of a deleted client inactive", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const resourceServer = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const tokens = await issueTokens(server, client);

    const deletion = await server.send(`/register/${client.client_id}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${client.registration_access_token as string}` },
    });
    expect(deletion.status).toBe(204);

    const access = await readIntrospection(await introspectToken(server, resourceServer, tokens.access_token));
    expect(access).toEqual({ active: false });
    const refresh = await readIntrospection(await introspectToken(server, resourceServer, tokens.refresh_token!));
    expect(refresh).toEqual({ active: false });
  });

  it("rejects a missing token", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));

    const response = await introspectToken(server, client, "unused", { token: undefined });

    await expectOAuthError(response, { status: 400, error: "invalid_request", description: '"token" is missing.' });
  });

  it("reports a garbage token inactive", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));

    const opaque = await readIntrospection(await introspectToken(server, client, "not-a-token"));
    const jwtShaped = await readIntrospection(await introspectToken(server, client, "aaa.bbb.ccc"));

    expect(opaque).toEqual({ active: false });
    expect(jwtShaped).toEqual({ active: false });
  });

  it("reports an expired access token inactive", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    server.advance(3601);
    const introspection = await readIntrospection(await introspectToken(server, client, tokens.access_token));

    expect(introspection).toEqual({ active: false });
  });

  it("reports a token signed with another key inactive", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);
    const { payload, protectedHeader } = await verifyAccessToken(server, tokens.access_token);
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(payload)
      .setProtectedHeader({ alg: "ES256", typ: protectedHeader.typ, kid: protectedHeader.kid })
      .sign(privateKey);

    const introspection = await readIntrospection(await introspectToken(server, client, forged));

    expect(introspection).toEqual({ active: false });
  });

  it("reports a rotated token active in the window", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);
    await readTokenResponse(await refreshTokens(server, client, tokens.refresh_token!));

    server.advance(30);
    const introspection = await readIntrospection(await introspectToken(server, client, tokens.refresh_token!));

    expect(introspection.active).toBe(true);
  });

  it("reports a rotated token inactive after the window", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);
    await readTokenResponse(await refreshTokens(server, client, tokens.refresh_token!));

    server.advance(61);
    const introspection = await readIntrospection(await introspectToken(server, client, tokens.refresh_token!));

    expect(introspection).toEqual({ active: false });
  });

  it("reports an expired refresh token inactive", async () => {
    const server = startServer({ ACCESS_TOKEN_TTL: 300, REFRESH_TOKEN_TTL: 600 });
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const tokens = await issueTokens(server, client);

    server.advance(601);
    const introspection = await readIntrospection(await introspectToken(server, client, tokens.refresh_token!));

    expect(introspection).toEqual({ active: false });
  });
});
