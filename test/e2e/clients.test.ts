import {
  discoverAuthorizationServerMetadata,
  type OAuthClientMetadata,
  RegistrationRejectedError,
  registerClient,
} from "@modelcontextprotocol/client";
import { calculateJwkThumbprint, importJWK, type JWK } from "jose";
import * as oauth from "oauth4webapi";
import { describe, expect, inject, it } from "vitest";
import { type ClientMetadataBody, loadRegistrationCases, registrationCase } from "./helpers/fixtures.js";

const issuer = inject("baseUrl");
const issuerUrl = new URL(issuer);

// oauth4webapi rejects http URLs unless this option is set, and the server under test is on loopback.
const loopbackOnly = { [oauth.allowInsecureRequests]: true };

const JAVASCRIPT_URI_DESCRIPTION = '"redirect_uris[0]" must not use the javascript: scheme';

async function discoverWithOauth4webapi(): Promise<oauth.AuthorizationServer> {
  const response = await oauth.discoveryRequest(issuerUrl, { algorithm: "oauth2", ...loopbackOnly });
  return oauth.processDiscoveryResponse(issuerUrl, response);
}

async function registerWithOauth4webapi(body: ClientMetadataBody) {
  const as = await discoverWithOauth4webapi();
  const response = await oauth.dynamicClientRegistrationRequest(as, body, loopbackOnly);
  return oauth.processDynamicClientRegistrationResponse(response);
}

describe("RFC 8414 authorization server metadata", () => {
  it("passes the oauth4webapi issuer check", async () => {
    const as = await discoverWithOauth4webapi();

    expect(as.issuer).toBe(issuer);
    expect(as.registration_endpoint).toBe(`${issuer}/register`);
    expect(as.jwks_uri).toBe(`${issuer}/.well-known/jwks.json`);
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
  });

  it("passes the MCP SDK issuer check", async () => {
    const metadata = await discoverAuthorizationServerMetadata(issuer, { protocolVersion: "2025-11-25" });

    expect(metadata).toBeDefined();
    expect(metadata!.issuer).toBe(issuer);
    expect(metadata!.registration_endpoint).toBe(`${issuer}/register`);
    expect(metadata!.response_types_supported).toEqual(["code"]);
    expect(metadata!.code_challenge_methods_supported).toContain("S256");
  });
});

describe("RFC 7517 JSON Web Key Set", () => {
  it("publishes public ES256 keys only", async () => {
    const as = await discoverWithOauth4webapi();
    const response = await fetch(as.jwks_uri!);
    const jwks = (await response.json()) as { keys: JWK[] };

    expect(response.status).toBe(200);
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      expect(key).not.toHaveProperty("d");
      expect(key.kid).toBe(await calculateJwkThumbprint(key));
      await expect(importJWK(key, "ES256")).resolves.toBeDefined();
    }
  });
});

describe("RFC 7591 dynamic client registration with oauth4webapi", () => {
  it("registers a public client", async () => {
    const body = registrationCase("browser inspector on localhost").body;
    const client = await registerWithOauth4webapi(body);

    expect(client.client_id).toBeTypeOf("string");
    expect(client.client_id_issued_at).toBeTypeOf("number");
    expect(client.token_endpoint_auth_method).toBe("none");
    expect(client.redirect_uris).toEqual(body.redirect_uris);
    expect(client).not.toHaveProperty("client_secret");
    expect(client).not.toHaveProperty("client_secret_expires_at");
  });

  it("registers a client_secret_basic client", async () => {
    const body = registrationCase("hosted connector that prefers HTTP Basic").body;
    const client = await registerWithOauth4webapi(body);

    expect(client.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(client.client_secret).toBeTypeOf("string");
    expect(client.client_secret_expires_at).toBeTypeOf("number");
  });

  it("returns RFC 7592 management credentials", async () => {
    const client = await registerWithOauth4webapi(registrationCase("browser inspector on localhost").body);

    expect(client.registration_access_token).toBeTypeOf("string");
    expect(client.registration_client_uri).toBe(`${issuer}/register/${client.client_id}`);
  });

  it("rejects a javascript: redirect URI", async () => {
    const body = { ...registrationCase("browser inspector on localhost").body, redirect_uris: ["javascript:alert(1)"] };
    const registration = registerWithOauth4webapi(body);

    await expect(registration).rejects.toBeInstanceOf(oauth.ResponseBodyError);
    await expect(registration).rejects.toMatchObject({
      status: 400,
      error: "invalid_redirect_uri",
      error_description: JAVASCRIPT_URI_DESCRIPTION,
    });
  });
});

describe("RFC 7591 dynamic client registration with the MCP SDK", () => {
  it.each(loadRegistrationCases())("registers $name", async ({ body }) => {
    const metadata = await discoverAuthorizationServerMetadata(issuer);
    const client = await registerClient(issuer, { metadata, clientMetadata: body as OAuthClientMetadata });
    const authMethod = body.token_endpoint_auth_method ?? "client_secret_basic";

    expect(client.client_id).toBeTypeOf("string");
    expect(client.client_id.length).toBeGreaterThan(0);
    expect(client.redirect_uris).toEqual(body.redirect_uris);
    expect(client.token_endpoint_auth_method).toBe(authMethod);
    if (authMethod === "none") {
      expect(client.client_secret).toBeUndefined();
      expect(client.client_secret_expires_at).toBeUndefined();
    } else {
      expect(client.client_secret).toBeTypeOf("string");
      expect(client.client_secret_expires_at).toBeTypeOf("number");
    }
  });

  it("rejects a javascript: redirect URI", async () => {
    const body = { ...registrationCase("browser inspector on localhost").body, redirect_uris: ["javascript:alert(1)"] };
    const registration = registerClient(issuer, { clientMetadata: body as OAuthClientMetadata });

    await expect(registration).rejects.toBeInstanceOf(RegistrationRejectedError);
    const error = (await registration.catch((caught: unknown) => caught)) as RegistrationRejectedError;
    expect(error.status).toBe(400);
    expect(JSON.parse(error.body)).toEqual({ error: "invalid_redirect_uri", error_description: JAVASCRIPT_URI_DESCRIPTION });
  });
});
