import { env } from "cloudflare:test";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import {
  authorize,
  basicCredentials,
  CLIENT_AUTHENTICATION_FAILED,
  CLIENT_ORIGIN,
  clientRequest,
  confidentialClientBody,
  exchangeCode,
  expectOAuthError,
  fetchJwks,
  INVALID_GRANT,
  introspectToken,
  ISSUER,
  issueTokens,
  publicClientBody,
  readTokenResponse,
  refreshTokens,
  registerClient,
  RESOURCE,
  sha256Base64url,
  START_TIME,
  startServer,
  verifyAccessToken,
} from "./flow-helpers.js";

const BASIC_CHALLENGE = `Basic realm="${ISSUER}"`;

describe("RFC 6749 §5.1 successful token response", () => {
  it("returns the token fields", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const response = await exchangeCode(server, client, await authorize(server, client));

    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(typeof body.access_token).toBe("string");
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(3600);
    expect(typeof body.refresh_token).toBe("string");
    expect(body.scope).toBe("mcp");
  });

  it("forbids caching", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const response = await exchangeCode(server, client, await authorize(server, client));

    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Pragma")).toBe("no-cache");
  });

  it("allows browser clients to read it", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const response = await exchangeCode(server, client, await authorize(server, client));

    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("omits refresh_token without the refresh_token grant", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody({ grant_types: ["authorization_code"] }));

    const tokens = await issueTokens(server, client);

    expect(tokens.refresh_token).toBeUndefined();
  });

  it("uses the configured access token lifetime", async () => {
    const server = startServer({ ACCESS_TOKEN_TTL: 300 });
    const client = await registerClient(server, publicClientBody());

    const tokens = await issueTokens(server, client);

    expect(tokens.expires_in).toBe(300);
    const { payload } = await verifyAccessToken(server, tokens.access_token);
    expect(payload.exp! - payload.iat!).toBe(300);
  });
});

describe("RFC 9068 JWT access token", () => {
  it("has the at+jwt header with a published kid", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const tokens = await issueTokens(server, client);

    const header = decodeProtectedHeader(tokens.access_token);
    expect(header.typ).toBe("at+jwt");
    expect(header.alg).toBe("ES256");
    const { keys } = await fetchJwks(server);
    expect(keys.map((key) => key.kid)).toContain(header.kid);
  });

  it("verifies against the published JWK Set", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const tokens = await issueTokens(server, client);

    const { protectedHeader } = await verifyAccessToken(server, tokens.access_token);

    expect(protectedHeader.typ).toBe("at+jwt");
  });

  it("carries the required claims", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const tokens = await issueTokens(server, client);

    const { payload } = await verifyAccessToken(server, tokens.access_token);
    expect(payload.iss).toBe(ISSUER);
    expect(typeof payload.sub).toBe("string");
    expect(payload.sub).not.toBe("");
    expect(payload.aud).toBe(RESOURCE);
    expect(payload.client_id).toBe(client.client_id);
    expect(payload.scope).toBe("mcp");
    expect(payload.iat).toBe(START_TIME);
    expect(payload.exp).toBe(START_TIME + 3600);
    expect(typeof payload.jti).toBe("string");
  });

  it("gives every token its own jti", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const first = await issueTokens(server, client);
    const second = await issueTokens(server, client);

    const firstClaims = (await verifyAccessToken(server, first.access_token)).payload;
    const secondClaims = (await verifyAccessToken(server, second.access_token)).payload;
    expect(firstClaims.jti).not.toBe(secondClaims.jti);
  });

  it("keeps sub stable for one user", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const first = await exchangeCode(server, client, await authorize(server, client, {}, "alice"));
    const second = await exchangeCode(server, client, await authorize(server, client, {}, "alice"));
    const other = await exchangeCode(server, client, await authorize(server, client, {}, "bob"));

    const firstSub = (await verifyAccessToken(server, (await readTokenResponse(first)).access_token)).payload.sub;
    const secondSub = (await verifyAccessToken(server, (await readTokenResponse(second)).access_token)).payload.sub;
    const otherSub = (await verifyAccessToken(server, (await readTokenResponse(other)).access_token)).payload.sub;
    expect(secondSub).toBe(firstSub);
    expect(otherSub).not.toBe(firstSub);
  });
});

describe("RFC 6749 §2.3 client authentication at the token endpoint", () => {
  it("accepts client_secret_basic", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));

    const response = await exchangeCode(server, client, await authorize(server, client));

    expect(response.status).toBe(200);
  });

  it("accepts client_secret_post", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));

    const response = await exchangeCode(server, client, await authorize(server, client));

    expect(response.status).toBe(200);
  });

  it("rejects an unknown client", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, { ...client, client_id: "unknown-client" }, authorization);

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("challenges an unknown client that used Basic", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, { ...client, client_id: "unknown-client" }, authorization);

    expect(response.headers.get("WWW-Authenticate")).toBe(BASIC_CHALLENGE);
    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects a wrong secret sent with Basic", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, { ...client, client_secret: "wrong-secret" }, authorization);

    expect(response.headers.get("WWW-Authenticate")).toBe(BASIC_CHALLENGE);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects a wrong secret sent in the body", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, { ...client, client_secret: "wrong-secret" }, authorization);

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects client_secret_post from a client_secret_basic client", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, { ...client, token_endpoint_auth_method: "client_secret_post" }, authorization);

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects client_secret_basic from a client_secret_post client", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, { ...client, token_endpoint_auth_method: "client_secret_basic" }, authorization);

    expect(response.headers.get("WWW-Authenticate")).toBe(BASIC_CHALLENGE);
    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects a confidential client that sends no secret", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, { ...client, token_endpoint_auth_method: "none" }, authorization);

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects a secret from a public client", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(
      server,
      { ...client, token_endpoint_auth_method: "client_secret_post", client_secret: "any-secret" },
      authorization,
    );

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects an expired client secret", async () => {
    const server = startServer({ CLIENT_SECRET_TTL: 3600 });
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const authorization = await authorize(server, client);

    server.advance(3601);
    const response = await exchangeCode(server, client, authorization);

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: CLIENT_AUTHENTICATION_FAILED });
  });

  it("rejects two authentication methods in one request", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { client_secret: client.client_secret });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: "Use one client authentication method: HTTP Basic or client_secret in the body, not both.",
    });
  });

  it("rejects a body client_id that differs from Basic", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { client_id: "another-client" });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: '"client_id" in the body differs from the client in the Authorization header.',
    });
  });

  it("rejects a malformed Basic header", async () => {
    const server = startServer();

    const response = await server.send("/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: CLIENT_ORIGIN, Authorization: "Basic not base64!" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: "any-code", code_verifier: "v".repeat(43) }),
    });

    expect(response.headers.get("WWW-Authenticate")).toBe(BASIC_CHALLENGE);
    await expectOAuthError(response, {
      status: 401,
      error: "invalid_client",
      description: "The Authorization header is not valid HTTP Basic client authentication.",
    });
  });

  it("rejects a request with no client", async () => {
    const server = startServer();

    const response = await server.send("/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: CLIENT_ORIGIN },
      body: new URLSearchParams({ grant_type: "authorization_code", code: "any-code", code_verifier: "v".repeat(43) }),
    });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: '"client_id" is missing, and no client authentication was sent.',
    });
  });

  it("decodes form-encoded Basic credentials", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const authorization = await authorize(server, client);

    const response = await server.send("/token", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Origin: CLIENT_ORIGIN,
        Authorization: basicCredentials(client.client_id, client.client_secret!),
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: authorization.code,
        code_verifier: authorization.verifier,
        redirect_uri: client.redirect_uris[0]!,
      }),
    });

    expect(response.status).toBe(200);
  });
});

describe("RFC 6749 §4.1.3 authorization code redemption", () => {
  it("rejects a replayed code and revokes its tokens", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const authorization = await authorize(server, client);
    const first = await readTokenResponse(await exchangeCode(server, client, authorization));

    const replay = await exchangeCode(server, client, authorization);
    await expectOAuthError(replay, { status: 400, error: "invalid_grant", description: INVALID_GRANT });

    const refresh = await refreshTokens(server, client, first.refresh_token!);
    await expectOAuthError(refresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
    const refreshIntrospection = await introspectToken(server, client, first.refresh_token!);
    expect(await refreshIntrospection.json()).toEqual({ active: false });
    const accessIntrospection = await introspectToken(server, client, first.access_token);
    expect(await accessIntrospection.json()).toEqual({ active: false });
  });

  it("revokes tokens on replay after KV expiry", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const authorization = await authorize(server, client);
    const first = await readTokenResponse(await exchangeCode(server, client, authorization));
    // KV deletes the code when its TTL ends, so deleting it here simulates that expiry.
    await env.KV.delete(`code:${await sha256Base64url(authorization.code)}`);

    const replay = await exchangeCode(server, client, authorization);
    await expectOAuthError(replay, { status: 400, error: "invalid_grant", description: INVALID_GRANT });

    const refresh = await refreshTokens(server, client, first.refresh_token!);
    await expectOAuthError(refresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("rejects an expired code", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    server.advance(61);
    const response = await exchangeCode(server, client, authorization);

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("accepts a code just before it expires", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    server.advance(59);
    const response = await exchangeCode(server, client, authorization);

    expect(response.status).toBe(200);
  });

  it("rejects an unknown code", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { code: "unknown-code" });

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("rejects a code issued to another client", async () => {
    const server = startServer();
    const owner = await registerClient(server, publicClientBody());
    const other = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, owner);

    const response = await exchangeCode(server, other, authorization);
    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });

    const ownerResponse = await exchangeCode(server, owner, authorization);
    expect(ownerResponse.status).toBe(200);
  });

  it("rejects a different redirect_uri", async () => {
    const server = startServer();
    const client = await registerClient(
      server,
      publicClientBody({ redirect_uris: ["http://127.0.0.1:3000/callback", "http://127.0.0.1:3000/debug"] }),
    );
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { redirect_uri: "http://127.0.0.1:3000/debug" });

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("rejects a missing redirect_uri that the request had", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { redirect_uri: undefined });

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("rejects a missing code", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { code: undefined });

    await expectOAuthError(response, { status: 400, error: "invalid_request", description: '"code" is missing.' });
  });

  it("rejects a repeated parameter", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);
    const body = new URLSearchParams({
      grant_type: "authorization_code",
      client_id: client.client_id,
      code: authorization.code,
      code_verifier: authorization.verifier,
      redirect_uri: client.redirect_uris[0]!,
    });
    body.append("code", authorization.code);

    const response = await server.send("/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: CLIENT_ORIGIN },
      body,
    });

    await expectOAuthError(response, { status: 400, error: "invalid_request", description: '"code" must not be repeated.' });
  });
});

describe("RFC 8707 resource at the token endpoint", () => {
  const OTHER_RESOURCE = "https://api.test/mcp";

  it("accepts the authorized resource at redemption", async () => {
    const server = startServer({ RESOURCES: [RESOURCE, OTHER_RESOURCE] });
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client, { resource: OTHER_RESOURCE });

    const tokens = await readTokenResponse(await exchangeCode(server, client, authorization, { resource: OTHER_RESOURCE }));

    const { payload } = await verifyAccessToken(server, tokens.access_token);
    expect(payload.aud).toBe(OTHER_RESOURCE);
  });

  it("rejects another resource at redemption", async () => {
    const server = startServer({ RESOURCES: [RESOURCE, OTHER_RESOURCE] });
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { resource: OTHER_RESOURCE });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_target",
      description: `"resource" must be the resource of the original grant: ${RESOURCE}`,
    });
  });
});

describe("RFC 7636 PKCE at the token endpoint", () => {
  it("rejects a verifier that does not match the challenge", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { code_verifier: "x".repeat(43) });

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("rejects the challenge sent as the verifier", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, {
      code_verifier: authorization.query.get("code_challenge")!,
    });

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("treats an empty code_verifier as missing", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    // RFC 6749 §3.2: "Parameters sent without a value MUST be treated as if they were omitted from the request."
    const response = await exchangeCode(server, client, authorization, { code_verifier: "" });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: '"code_verifier" is missing; PKCE is required.',
    });
  });

  it("rejects a missing code_verifier", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { code_verifier: undefined });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: '"code_verifier" is missing; PKCE is required.',
    });
  });
});

describe("RFC 6749 §5.2 token request errors", () => {
  it("rejects an unsupported grant_type", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const response = await clientRequest(server, "/token", client, { grant_type: "password", username: "alice", password: "x" });

    await expectOAuthError(response, {
      status: 400,
      error: "unsupported_grant_type",
      description: '"grant_type" must be authorization_code or refresh_token, not "password".',
    });
  });

  it("rejects a missing grant_type", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await exchangeCode(server, client, authorization, { grant_type: undefined });

    await expectOAuthError(response, { status: 400, error: "invalid_request", description: '"grant_type" is missing.' });
  });

  it("rejects a JSON body", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await server.send("/token", {
      method: "POST",
      headers: { "Content-Type": "application/json", Origin: CLIENT_ORIGIN },
      body: JSON.stringify({
        grant_type: "authorization_code",
        client_id: client.client_id,
        code: authorization.code,
        code_verifier: authorization.verifier,
        redirect_uri: client.redirect_uris[0],
      }),
    });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_request",
      description: 'The request body must use "Content-Type: application/x-www-form-urlencoded".',
    });
  });

  it("accepts a charset on the content type", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const response = await server.send("/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8", Origin: CLIENT_ORIGIN },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: client.client_id,
        code: authorization.code,
        code_verifier: authorization.verifier,
        redirect_uri: client.redirect_uris[0]!,
      }),
    });

    expect(response.status).toBe(200);
  });

  it("rejects a body over the size limit", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const response = await clientRequest(server, "/token", client, { grant_type: "authorization_code", padding: "x".repeat(17_000) });

    await expectOAuthError(response, {
      status: 413,
      error: "invalid_request",
      description: "The request body must be at most 16384 bytes.",
    });
  });

  it("rejects GET", async () => {
    const server = startServer();

    const response = await server.send("/token", { headers: { Origin: CLIENT_ORIGIN } });

    expect(response.headers.get("Allow")).toBe("POST");
    await expectOAuthError(response, { status: 405, error: "method_not_allowed", description: "GET is not allowed here; use POST." });
  });

  it("rejects refresh from a client without the refresh_token grant", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody({ grant_types: ["authorization_code"] }));

    const response = await refreshTokens(server, client, "any-refresh-token");

    await expectOAuthError(response, {
      status: 400,
      error: "unauthorized_client",
      description: "This client is not registered for the refresh_token grant.",
    });
  });
});
