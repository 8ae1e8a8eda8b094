import { describe, expect, it } from "vitest";
import {
  authorizationQuery,
  authorize,
  CLIENT_ORIGIN,
  confidentialClientBody,
  createPkce,
  exchangeCode,
  expectErrorPage,
  expectRedirectError,
  ISSUER,
  openConsent,
  publicClientBody,
  readTokenResponse,
  registerClient,
  RESOURCE,
  signIn,
  startServer,
  submitConsent,
  type TestServer,
  verifyAccessToken,
} from "./flow-helpers.js";
import { registrationCases } from "./fixtures/registrations.js";

/** Sends a GET to the authorization endpoint without a session, as a browser's first visit. */
function openAuthorization(server: TestServer, query: URLSearchParams): Promise<Response> {
  return server.send(`/authorize?${query}`);
}

describe("RFC 6749 §4.1 authorization code grant for MCP clients", () => {
  it("covers every client authentication method", () => {
    const methods = new Set(registrationCases.map((entry) => entry.body.token_endpoint_auth_method));

    expect(methods).toEqual(new Set(["none", "client_secret_basic", "client_secret_post"]));
  });

  it.each(registrationCases)("completes the flow for $name", async (entry) => {
    const server = startServer();
    const client = await registerClient(server, entry.body);
    const redirectUri = entry.authorize_with_redirect_uri ?? client.redirect_uris[0]!;

    const authorization = await authorize(server, client, { redirect_uri: redirectUri });
    expect(authorization.location.href.split("?")[0]).toBe(redirectUri);
    expect(authorization.location.searchParams.get("state")).toBe(authorization.query.get("state"));
    expect(authorization.location.searchParams.get("iss")).toBe(ISSUER);

    const response = await exchangeCode(server, client, authorization);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const tokens = await readTokenResponse(response);
    expect(typeof tokens.access_token).toBe("string");
    expect(tokens.token_type).toBe("Bearer");
    expect(typeof tokens.expires_in).toBe("number");
    expect(typeof tokens.refresh_token).toBe("string");
    expect(tokens.scope).toBe("mcp");

    const { payload } = await verifyAccessToken(server, tokens.access_token);
    expect(payload.client_id).toBe(client.client_id);
    expect(payload.aud).toBe(RESOURCE);
  });

  it("gives confidential clients a secret", async () => {
    const server = startServer();
    const confidential = registrationCases.filter((entry) => entry.body.token_endpoint_auth_method !== "none");

    for (const entry of confidential) {
      const client = await registerClient(server, entry.body);
      expect(client.client_secret, entry.name).toBeTruthy();
    }
  });
});

describe("RFC 6749 §4.1.2 authorization response", () => {
  it("returns state unchanged", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const state = `a b+c&d=e/f?g%20"<'>é&amp;`;

    const authorization = await authorize(server, client, { state });

    expect(authorization.location.searchParams.get("state")).toBe(state);
  });

  it("omits state when the request has none", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const authorization = await authorize(server, client, { state: undefined });

    expect(authorization.location.searchParams.has("state")).toBe(false);
  });

  it("keeps the query of the registered redirect URI", async () => {
    const server = startServer();
    const redirectUri = "https://connector.test/oauth/callback?tenant=7";
    const client = await registerClient(server, confidentialClientBody("client_secret_post", { redirect_uris: [redirectUri] }));

    const authorization = await authorize(server, client);

    expect(authorization.location.searchParams.get("tenant")).toBe("7");
    expect(authorization.location.href.split("?")[0]).toBe("https://connector.test/oauth/callback");
  });

  it("uses the only registered redirect URI when omitted", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const authorization = await authorize(server, client, { redirect_uri: undefined });
    expect(authorization.location.href.split("?")[0]).toBe(client.redirect_uris[0]);

    const response = await exchangeCode(server, client, authorization);
    expect(response.status).toBe(200);
  });

  it("accepts another port on a loopback redirect URI", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody({ redirect_uris: ["http://127.0.0.1:3000/callback"] }));
    const redirectUri = "http://127.0.0.1:49152/callback";

    const authorization = await authorize(server, client, { redirect_uri: redirectUri });
    expect(authorization.location.href.split("?")[0]).toBe(redirectUri);

    const response = await exchangeCode(server, client, authorization);
    expect(response.status).toBe(200);
  });
});

describe("RFC 6749 §3.1 parameters sent without a value", () => {
  // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted from the request."
  it("treats an empty scope as omitted", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const authorization = await authorize(server, client, { scope: "" });
    const tokens = await readTokenResponse(await exchangeCode(server, client, authorization));

    expect(tokens.scope).toBe("mcp");
  });

  it("treats an empty redirect_uri as omitted", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const authorization = await authorize(server, client, { redirect_uri: "" });

    expect(authorization.location.href.split("?")[0]).toBe(client.redirect_uris[0]);
  });
});

describe("RFC 9207 issuer identification", () => {
  it("adds iss to a successful response", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const authorization = await authorize(server, client);

    expect(authorization.location.searchParams.get("iss")).toBe(ISSUER);
  });

  it("adds iss to an error response", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();

    const response = await openAuthorization(server, authorizationQuery(client, challenge, { response_type: "token" }));

    expect(new URL(response.headers.get("Location")!).searchParams.get("iss")).toBe(ISSUER);
  });
});

describe("RFC 6749 §4.1.2.1 errors shown to the user", () => {
  it("shows a page for an unknown client_id", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();

    const response = await openAuthorization(server, authorizationQuery(client, challenge, { client_id: "unknown-client" }));

    await expectErrorPage(response, {
      status: 400,
      error: "invalid_client",
      description: 'No client is registered with client_id "unknown-client".',
    });
  });

  it("shows a page for a missing client_id", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();

    const response = await openAuthorization(server, authorizationQuery(client, challenge, { client_id: undefined }));

    await expectErrorPage(response, { status: 400, error: "invalid_request", description: '"client_id" is missing.' });
  });

  it("shows a page for an unregistered redirect_uri", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const redirectUri = "https://elsewhere.test/callback";

    const response = await openAuthorization(server, authorizationQuery(client, challenge, { redirect_uri: redirectUri }));

    await expectErrorPage(response, {
      status: 400,
      error: "invalid_request",
      description: `"redirect_uri" does not match a redirect URI registered by this client: ${redirectUri}`,
    });
  });

  it("shows a page for another loopback path", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody({ redirect_uris: ["http://127.0.0.1:3000/callback"] }));
    const { challenge } = await createPkce();
    const redirectUri = "http://127.0.0.1:3000/other";

    const response = await openAuthorization(server, authorizationQuery(client, challenge, { redirect_uri: redirectUri }));

    await expectErrorPage(response, {
      status: 400,
      error: "invalid_request",
      description: `"redirect_uri" does not match a redirect URI registered by this client: ${redirectUri}`,
    });
  });

  it("requires redirect_uri with several registered", async () => {
    const server = startServer();
    const client = await registerClient(
      server,
      publicClientBody({ redirect_uris: ["http://127.0.0.1:3000/callback", "http://127.0.0.1:3000/debug"] }),
    );
    const { challenge } = await createPkce();

    const response = await openAuthorization(server, authorizationQuery(client, challenge, { redirect_uri: undefined }));

    await expectErrorPage(response, {
      status: 400,
      error: "invalid_request",
      description: '"redirect_uri" is missing, and the client registered more than one redirect URI.',
    });
  });

  it("shows a page for a repeated parameter", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const query = authorizationQuery(client, challenge);
    query.append("client_id", client.client_id);

    const response = await openAuthorization(server, query);

    await expectErrorPage(response, { status: 400, error: "invalid_request", description: '"client_id" must not be repeated.' });
  });

  it("rechecks redirect_uri on the form post", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const session = await signIn(server, authorizationQuery(client, challenge));
    const consent = await openConsent(server, session);
    const redirectUri = "https://elsewhere.test/callback";
    const fields = consent.form.fields.map(([name, value]): [string, string] => [name, name === "redirect_uri" ? redirectUri : value]);

    const response = await submitConsent(server, session, consent.form, "approve", fields);

    await expectErrorPage(response, {
      status: 400,
      error: "invalid_request",
      description: `"redirect_uri" does not match a redirect URI registered by this client: ${redirectUri}`,
    });
  });
});

describe("RFC 6749 §4.1.2.1 errors redirected to the client", () => {
  async function requestWith(overrides: Record<string, string | undefined>) {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const query = authorizationQuery(client, challenge, overrides);
    return { response: await openAuthorization(server, query), client, state: query.get("state")! };
  }

  it("rejects a missing response_type", async () => {
    const { response, client, state } = await requestWith({ response_type: undefined });

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "invalid_request",
      description: '"response_type" is missing.',
      state,
    });
  });

  it("rejects an unsupported response_type", async () => {
    const { response, client, state } = await requestWith({ response_type: "token" });

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "unsupported_response_type",
      description: '"response_type" must be "code", not "token".',
      state,
    });
  });

  it("returns the user's denial as access_denied", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const query = authorizationQuery(client, challenge);
    const session = await signIn(server, query);
    const consent = await openConsent(server, session);

    const response = await submitConsent(server, session, consent.form, "deny");

    expectRedirectError(response, {
      status: 303,
      redirectUri: client.redirect_uris[0]!,
      error: "access_denied",
      description: "The user denied the request.",
      state: query.get("state")!,
    });
  });
});

describe("RFC 7636 PKCE at the authorization endpoint", () => {
  async function requestWith(overrides: Record<string, string | undefined>) {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const query = authorizationQuery(client, challenge, overrides);
    return { response: await openAuthorization(server, query), client, state: query.get("state")! };
  }

  it("rejects a missing code_challenge", async () => {
    const { response, client, state } = await requestWith({ code_challenge: undefined });

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "invalid_request",
      description: '"code_challenge" is missing; PKCE with S256 is required.',
      state,
    });
  });

  it("rejects the plain challenge method", async () => {
    const { response, client, state } = await requestWith({ code_challenge_method: "plain" });

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "invalid_request",
      description: '"code_challenge_method" must be "S256"; "plain" is not supported.',
      state,
    });
  });

  it("rejects a missing challenge method", async () => {
    const { response, client, state } = await requestWith({ code_challenge_method: undefined });

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "invalid_request",
      description: '"code_challenge_method" must be "S256"; "plain" is not supported.',
      state,
    });
  });

  it("rejects a challenge that is not an S256 hash", async () => {
    const { response, client, state } = await requestWith({ code_challenge: "too-short" });

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "invalid_request",
      description: '"code_challenge" must be 43 base64url characters, the S256 hash of the verifier.',
      state,
    });
  });
});

describe("RFC 6749 §3.3 scope at the authorization endpoint", () => {
  const SCOPES = { SCOPES_SUPPORTED: ["mcp:read", "mcp:write", "mcp:admin"] };

  it("defaults to the client's registered scope", async () => {
    const server = startServer(SCOPES);
    const client = await registerClient(server, publicClientBody({ scope: "mcp:read mcp:write" }));

    const tokens = await readTokenResponse(await exchangeCode(server, client, await authorize(server, client)));

    expect(tokens.scope).toBe("mcp:read mcp:write");
  });

  it("grants a narrower requested scope", async () => {
    const server = startServer(SCOPES);
    const client = await registerClient(server, publicClientBody({ scope: "mcp:read mcp:write" }));

    const authorization = await authorize(server, client, { scope: "mcp:read" });
    const tokens = await readTokenResponse(await exchangeCode(server, client, authorization));

    expect(tokens.scope).toBe("mcp:read");
    const { payload } = await verifyAccessToken(server, tokens.access_token);
    expect(payload.scope).toBe("mcp:read");
  });

  it("rejects a scope the client did not register", async () => {
    const server = startServer(SCOPES);
    const client = await registerClient(server, publicClientBody({ scope: "mcp:read" }));
    const { challenge } = await createPkce();
    const query = authorizationQuery(client, challenge, { scope: "mcp:read mcp:admin" });

    const response = await openAuthorization(server, query);

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "invalid_scope",
      description: '"scope" contains values the client did not register: mcp:admin',
      state: query.get("state")!,
    });
  });
});

describe("RFC 8707 resource indicators at the authorization endpoint", () => {
  const OTHER_RESOURCE = "https://api.test/mcp";

  it("defaults to the server's resource", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());

    const tokens = await readTokenResponse(await exchangeCode(server, client, await authorize(server, client)));

    const { payload } = await verifyAccessToken(server, tokens.access_token);
    expect(payload.aud).toBe(RESOURCE);
  });

  it("binds the token to the requested resource", async () => {
    const server = startServer({ RESOURCES: [RESOURCE, OTHER_RESOURCE] });
    const client = await registerClient(server, publicClientBody());

    const authorization = await authorize(server, client, { resource: OTHER_RESOURCE });
    const tokens = await readTokenResponse(await exchangeCode(server, client, authorization));

    const { payload } = await verifyAccessToken(server, tokens.access_token);
    expect(payload.aud).toBe(OTHER_RESOURCE);
  });

  it("rejects a resource the server does not protect", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const query = authorizationQuery(client, challenge, { resource: OTHER_RESOURCE });

    const response = await openAuthorization(server, query);

    expectRedirectError(response, {
      status: 302,
      redirectUri: client.redirect_uris[0]!,
      error: "invalid_target",
      description: `"resource" is not a protected resource of this server: ${OTHER_RESOURCE}`,
      state: query.get("state")!,
    });
  });
});

describe("authorization endpoint and CORS", () => {
  it("sends no CORS header on the authorization endpoint", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();

    const response = await server.send(`/authorize?${authorizationQuery(client, challenge)}`, {
      headers: { Origin: CLIENT_ORIGIN },
    });

    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
