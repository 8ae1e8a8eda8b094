import { Hono } from "hono";
import * as jose from "jose";
import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type BearerEnv, bearerAuth } from "../../src/resource/bearer.js";
import { registrationCase } from "./helpers/fixtures.js";

const issuer = inject("baseUrl");
const issuerUrl = new URL(issuer);

// oauth4webapi rejects http URLs unless this option is set, and the server under test is on loopback.
const loopbackOnly = { [oauth.allowInsecureRequests]: true };

/** Returns the hidden fields of an HTML form, decoded as a browser submits them. */
function formFields(html: string): URLSearchParams {
  const fields = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.append(match[1]!, decodeEntities(match[2]!));
  }
  return fields;
}

function decodeEntities(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/**
 * Signs in with the development identity and approves the consent form, sending what a browser
 * sends: the form's fields, the session cookie, and no JavaScript.
 * @returns the URL the server redirected the browser to
 */
async function approveAsUser(authorizationUrl: URL, username: string): Promise<URL> {
  const signInPage = await fetch(authorizationUrl, { redirect: "manual" });
  expect(signInPage.status).toBe(200);
  const signInFields = formFields(await signInPage.text());
  signInFields.set("username", username);

  const signedIn = await fetch(`${issuer}/authorize/sign-in`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: signInFields,
    redirect: "manual",
  });
  // The sign-in post returns the consent page and the session cookie.
  expect(signedIn.status).toBe(200);
  const cookie = signedIn.headers.get("set-cookie")!.split(";")[0]!;
  const consentFields = formFields(await signedIn.text());
  consentFields.set("decision", "approve");

  const approved = await fetch(`${issuer}/authorize`, {
    method: "POST",
    headers: { cookie, "Content-Type": "application/x-www-form-urlencoded" },
    body: consentFields,
    redirect: "manual",
  });
  expect(approved.status).toBe(303);
  return new URL(approved.headers.get("location")!);
}

describe("oauth4webapi authorization code flow", () => {
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: "oauth2", ...loopbackOnly }));
  });

  for (const name of ["command-line agent on a random localhost port", "hosted connector that prefers HTTP Basic"]) {
    it(`completes the flow and a refresh: ${name}`, async () => {
      const body = registrationCase(name).body;
      const registered = await oauth.processDynamicClientRegistrationResponse(
        await oauth.dynamicClientRegistrationRequest(as, body, loopbackOnly),
      );
      const client: oauth.Client = { client_id: registered.client_id };
      const clientAuth =
        body.token_endpoint_auth_method === "none" ? oauth.None() : oauth.ClientSecretBasic(registered.client_secret as string);
      const redirectUri = body.redirect_uris[0]!;

      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const authorizationUrl = new URL(as.authorization_endpoint!);
      authorizationUrl.searchParams.set("client_id", client.client_id);
      authorizationUrl.searchParams.set("redirect_uri", redirectUri);
      authorizationUrl.searchParams.set("response_type", "code");
      authorizationUrl.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
      authorizationUrl.searchParams.set("code_challenge_method", "S256");
      authorizationUrl.searchParams.set("state", state);
      authorizationUrl.searchParams.set("resource", `${issuer}/mcp`);

      const callback = await approveAsUser(authorizationUrl, "alice");

      // validateAuthResponse checks iss (RFC 9207) and state.
      const params = oauth.validateAuthResponse(as, client, callback, state);
      const tokenResponse = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier, loopbackOnly);
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse);

      expect(tokens.token_type).toBe("bearer");
      expect(typeof tokens.expires_in).toBe("number");
      expect(tokens.scope).toBe("mcp");
      expect(tokens.refresh_token).toEqual(expect.any(String));

      const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri!));
      const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
        issuer,
        audience: `${issuer}/mcp`,
        typ: "at+jwt",
      });
      expect(protectedHeader.alg).toBe("ES256");
      expect(payload.client_id).toBe(client.client_id);
      expect(payload.name).toBe("alice");

      const refreshResponse = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, loopbackOnly);
      const refreshed = await oauth.processRefreshTokenResponse(as, client, refreshResponse);

      expect(refreshed.access_token).not.toBe(tokens.access_token);
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    });
  }
});

describe("bearerAuth in another Worker", () => {
  it("verifies with the JWKS fetched once", async () => {
    const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: "oauth2", ...loopbackOnly }));
    const body = registrationCase("command-line agent on a random localhost port").body;
    const registered = await oauth.processDynamicClientRegistrationResponse(await oauth.dynamicClientRegistrationRequest(as, body, loopbackOnly));
    const client: oauth.Client = { client_id: registered.client_id };
    const verifier = oauth.generateRandomCodeVerifier();
    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.searchParams.set("client_id", client.client_id);
    authorizationUrl.searchParams.set("redirect_uri", body.redirect_uris[0]!);
    authorizationUrl.searchParams.set("response_type", "code");
    authorizationUrl.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    authorizationUrl.searchParams.set("code_challenge_method", "S256");
    const params = oauth.validateAuthResponse(as, client, await approveAsUser(authorizationUrl, "carol"), oauth.expectNoState);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, body.redirect_uris[0]!, verifier, loopbackOnly),
    );

    // An MCP server of its own that verifies tokens with the default key source: the issuer's JWKS.
    const jwksRequests: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      jwksRequests.push(String(input instanceof Request ? input.url : input));
      return realFetch(input, init);
    };
    try {
      const app = new Hono<BearerEnv>()
        .use(bearerAuth({ issuer, resource: `${issuer}/mcp`, resourceMetadata: `${issuer}/.well-known/oauth-protected-resource/mcp` }))
        .get("/mcp", (c) => c.json({ subject: c.get("auth").subject, name: c.get("auth").name }));

      for (let request = 0; request < 3; request++) {
        const response = await app.request("/mcp", { headers: { Authorization: `Bearer ${tokens.access_token}` } });
        expect(response.status).toBe(200);
        expect(((await response.json()) as { name: string }).name).toBe("carol");
      }
      const rejected = await app.request("/mcp", { headers: { Authorization: "Bearer not-a-token" } });
      expect(rejected.status).toBe(401);
    } finally {
      globalThis.fetch = realFetch;
    }

    expect(jwksRequests).toEqual([`${issuer}/.well-known/jwks.json`]);
  });
});
