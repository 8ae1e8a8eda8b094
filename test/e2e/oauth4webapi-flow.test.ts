import * as jose from "jose";
import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, inject, it } from "vitest";
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
