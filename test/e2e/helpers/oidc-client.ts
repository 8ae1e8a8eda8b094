import { createHash, randomBytes } from "node:crypto";

/** A public client registered at the Worker with dynamic client registration (RFC 7591). */
export interface RegisteredClient {
  clientId: string;
  redirectUri: string;
}

/** Registers a public client with one redirect URI and returns its `client_id`. */
export async function registerClient(issuer: string, redirectUri: string, clientName: string): Promise<RegisteredClient> {
  const response = await fetch(`${issuer}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: clientName,
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code"],
      response_types: ["code"],
    }),
  });
  const body = (await response.json()) as { client_id?: string };
  if (response.status !== 201 || !body.client_id) {
    throw new Error(`Registration returned HTTP ${response.status}: ${JSON.stringify(body)}`);
  }
  return { clientId: body.client_id, redirectUri };
}

/** An authorization request of the client, with the values a test checks the response against. */
export interface AuthorizationStart {
  url: URL;
  state: string;
  codeVerifier: string;
}

/** Builds an authorization request (RFC 6749 §4.1.1) with PKCE S256 and a fresh `state`. */
export function authorizationRequest(issuer: string, client: RegisteredClient, scope = "mcp"): AuthorizationStart {
  const state = randomBytes(16).toString("base64url");
  const codeVerifier = randomBytes(32).toString("base64url");
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope,
    state,
    code_challenge: createHash("sha256").update(codeVerifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  return { url, state, codeVerifier };
}
