import { describe, expect, it } from "vitest";
import {
  confidentialClientBody,
  expectOAuthError,
  INVALID_GRANT,
  introspectToken,
  issueTokens,
  publicClientBody,
  readTokenResponse,
  refreshTokens,
  registerClient,
  RESOURCE,
  startServer,
  verifyAccessToken,
} from "./flow-helpers.js";

const OTHER_RESOURCE = "https://api.test/mcp";

describe("RFC 6749 §6 refresh token grant", () => {
  it("issues new tokens", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);

    const response = await refreshTokens(server, client, issued.refresh_token!);

    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const refreshed = await readTokenResponse(response);
    expect(refreshed.token_type).toBe("Bearer");
    expect(refreshed.expires_in).toBe(3600);
    expect(refreshed.scope).toBe("mcp");
    expect(refreshed.access_token).not.toBe(issued.access_token);
  });

  it("keeps the grant's subject and resource", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);
    server.advance(120);

    const refreshed = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    const before = (await verifyAccessToken(server, issued.access_token)).payload;
    const after = (await verifyAccessToken(server, refreshed.access_token)).payload;
    expect(after.sub).toBe(before.sub);
    expect(after.aud).toBe(RESOURCE);
    expect(after.client_id).toBe(client.client_id);
    expect(after.iat).toBe(server.clock);
    expect(after.jti).not.toBe(before.jti);
  });

  it("authenticates a confidential client", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_basic"));
    const issued = await issueTokens(server, client);

    const response = await refreshTokens(server, { ...client, client_secret: "wrong-secret" }, issued.refresh_token!);

    await expectOAuthError(response, { status: 401, error: "invalid_client", description: "Client authentication failed." });
  });

  it("rejects an unknown refresh token", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const response = await refreshTokens(server, client, "unknown-refresh-token");

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("rejects an access token as a refresh token", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);

    const response = await refreshTokens(server, client, issued.access_token);

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("rejects a missing refresh_token", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const response = await refreshTokens(server, client, "unused", { refresh_token: undefined });

    await expectOAuthError(response, { status: 400, error: "invalid_request", description: '"refresh_token" is missing.' });
  });

  it("rejects another client's refresh token", async () => {
    const server = startServer();
    const owner = await registerClient(server, publicClientBody());
    const other = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, owner);

    const response = await refreshTokens(server, other, issued.refresh_token!);
    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });

    const ownerResponse = await refreshTokens(server, owner, issued.refresh_token!);
    expect(ownerResponse.status).toBe(200);
  });

  it("rejects an expired refresh token", async () => {
    const server = startServer({ ACCESS_TOKEN_TTL: 300, REFRESH_TOKEN_TTL: 600 });
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);

    server.advance(601);
    const response = await refreshTokens(server, client, issued.refresh_token!);

    await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("gives the rotated token a fresh lifetime", async () => {
    const server = startServer({ ACCESS_TOKEN_TTL: 300, REFRESH_TOKEN_TTL: 600 });
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);

    server.advance(500);
    const rotated = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));
    server.advance(500);
    const response = await refreshTokens(server, client, rotated.refresh_token!);

    expect(response.status).toBe(200);
  });
});

describe("RFC 6749 §6 scope of a refreshed token", () => {
  const SCOPES = { SCOPES_SUPPORTED: ["mcp:read", "mcp:write", "mcp:admin"] };

  it("narrows the scope on request", async () => {
    const server = startServer(SCOPES);
    const client = await registerClient(server, publicClientBody({ scope: "mcp:read mcp:write" }));
    const issued = await issueTokens(server, client);

    const refreshed = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!, { scope: "mcp:read" }));

    expect(refreshed.scope).toBe("mcp:read");
    const { payload } = await verifyAccessToken(server, refreshed.access_token);
    expect(payload.scope).toBe("mcp:read");
  });

  it("returns to the granted scope when scope is omitted", async () => {
    const server = startServer(SCOPES);
    const client = await registerClient(server, publicClientBody({ scope: "mcp:read mcp:write" }));
    const issued = await issueTokens(server, client);
    const narrowed = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!, { scope: "mcp:read" }));

    const refreshed = await readTokenResponse(await refreshTokens(server, client, narrowed.refresh_token!));

    expect(refreshed.scope).toBe("mcp:read mcp:write");
  });

  it("treats an empty scope as omitted", async () => {
    const server = startServer(SCOPES);
    const client = await registerClient(server, publicClientBody({ scope: "mcp:read mcp:write" }));
    const issued = await issueTokens(server, client);

    // RFC 6749 §3.2: "Parameters sent without a value MUST be treated as if they were omitted from the request."
    const refreshed = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!, { scope: "" }));

    expect(refreshed.scope).toBe("mcp:read mcp:write");
  });

  it("rejects a scope beyond the grant", async () => {
    const server = startServer(SCOPES);
    const client = await registerClient(server, publicClientBody({ scope: "mcp:read mcp:write mcp:admin" }));
    const issued = await issueTokens(server, client, { scope: "mcp:read" });

    const response = await refreshTokens(server, client, issued.refresh_token!, { scope: "mcp:read mcp:admin" });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_scope",
      description: '"scope" exceeds the original grant: mcp:admin',
    });
  });
});

describe("RFC 8707 resource of a refreshed token", () => {
  it("accepts the grant's resource", async () => {
    const server = startServer({ RESOURCES: [RESOURCE, OTHER_RESOURCE] });
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client, { resource: OTHER_RESOURCE });

    const refreshed = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!, { resource: OTHER_RESOURCE }));

    const { payload } = await verifyAccessToken(server, refreshed.access_token);
    expect(payload.aud).toBe(OTHER_RESOURCE);
  });

  it("rejects another resource", async () => {
    const server = startServer({ RESOURCES: [RESOURCE, OTHER_RESOURCE] });
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);

    const response = await refreshTokens(server, client, issued.refresh_token!, { resource: OTHER_RESOURCE });

    await expectOAuthError(response, {
      status: 400,
      error: "invalid_target",
      description: `"resource" must be the resource of the original grant: ${RESOURCE}`,
    });
  });
});

describe("refresh token rotation with a grace window", () => {
  it("rotates the refresh token", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);

    const refreshed = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    expect(typeof refreshed.refresh_token).toBe("string");
    expect(refreshed.refresh_token).not.toBe(issued.refresh_token);
  });

  it("accepts the old token within the window", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);
    await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    server.advance(30);
    const retry = await refreshTokens(server, client, issued.refresh_token!);

    expect(retry.status).toBe(200);
  });

  it("revokes the family on late reuse", async () => {
    const server = startServer();
    const client = await registerClient(server, confidentialClientBody("client_secret_post"));
    const issued = await issueTokens(server, client);
    const newest = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    server.advance(61);
    const reuse = await refreshTokens(server, client, issued.refresh_token!);
    await expectOAuthError(reuse, { status: 400, error: "invalid_grant", description: INVALID_GRANT });

    const newestRefresh = await refreshTokens(server, client, newest.refresh_token!);
    await expectOAuthError(newestRefresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
    const introspection = await introspectToken(server, client, newest.access_token);
    expect(await introspection.json()).toEqual({ active: false });
  });

  it("measures the window from the first rotation", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);
    await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    server.advance(40);
    const retry = await refreshTokens(server, client, issued.refresh_token!);
    expect(retry.status).toBe(200);

    server.advance(25);
    const late = await refreshTokens(server, client, issued.refresh_token!);
    await expectOAuthError(late, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("uses the configured grace period", async () => {
    const server = startServer({ REFRESH_TOKEN_GRACE_PERIOD: 5 });
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);
    const newest = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    server.advance(6);
    const reuse = await refreshTokens(server, client, issued.refresh_token!);
    await expectOAuthError(reuse, { status: 400, error: "invalid_grant", description: INVALID_GRANT });

    const newestRefresh = await refreshTokens(server, client, newest.refresh_token!);
    await expectOAuthError(newestRefresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });

  it("keeps the newest token usable after the window", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);
    const newest = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    server.advance(3600);
    const response = await refreshTokens(server, client, newest.refresh_token!);

    expect(response.status).toBe(200);
  });
});
