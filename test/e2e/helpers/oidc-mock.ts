import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";

/** Ways the mock's ID token can be wrong, each of which the Worker must reject. */
export type IdTokenFlaw =
  /** `nonce` differs from the one in the authorization request. */
  | "wrong-nonce"
  /** `exp` and `iat` lie 20 minutes in the past, beyond any clock tolerance. */
  | "expired"
  /** Signed with a key that is not in the JWKS, under the `kid` of the published key. */
  | "unknown-key"
  /** `aud` names another client. */
  | "wrong-audience"
  /** HS256 with the client secret as the HMAC key, an algorithm the Worker does not allow. */
  | "hs256";

/** How the mock responds to the next sign-ins. `reset()` restores an honest provider. */
export interface MockBehaviour {
  /** Error code that the authorization endpoint sends back instead of a code, such as `access_denied`. */
  authorizationError?: string;
  /** Changes the last character of `state` in the redirect back, as a tampered response would. */
  tamperState?: boolean;
  /**
   * Shows a page with a "Continue" link to the callback instead of redirecting, so a test can
   * open the callback URL in another browser.
   */
  holdCallback?: boolean;
  idTokenFlaw?: IdTokenFlaw;
  /** HTTP status of the token endpoint, such as 500, which then returns a JSON error body. */
  tokenEndpointStatus?: number;
  /** Profile claims of the user, whose `sub` is "alice" unless set here. */
  claims?: JWTPayload;
}

/** An authorization request as the mock received it. */
export type AuthorizationRequestLog = Record<string, string>;

/** A token request as the mock received it, with what it found. */
export interface TokenRequestLog {
  /** The client id from HTTP Basic authentication, or `undefined` when the header was absent or wrong. */
  authenticatedClientId: string | undefined;
  params: Record<string, string>;
  /** Whether the code verifier hashed to the code challenge of the code's authorization request (RFC 7636 §4.6). */
  pkceVerified: boolean;
  status: number;
}

export interface MockProviderOptions {
  clientId: string;
  clientSecret: string;
}

/** A small OpenID Connect provider on 127.0.0.1 whose responses a test configures. */
export interface MockProvider {
  /** The issuer identifier, `http://127.0.0.1:<port>`, without a trailing slash. */
  issuer: string;
  /** The only redirect URI that the authorization endpoint accepts. Other values get a 400 page. */
  redirectUri: string | undefined;
  behaviour: MockBehaviour;
  authorizationRequests: AuthorizationRequestLog[];
  tokenRequests: TokenRequestLog[];
  /** Every callback URL that the authorization endpoint sent the browser to, in order. */
  callbacks: URL[];
  /** Restores honest responses and clears the logs. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_CLAIMS: JWTPayload = { sub: "alice", name: "Alice Example", email: "alice@example.com", email_verified: true };
const ID_TOKEN_LIFETIME = 300;
const KEY_ID = "mock-key-1";

function base64urlSha256(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" }).end(JSON.stringify(body));
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" }).end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Returns the client id of a valid `client_secret_basic` Authorization header, or `undefined`. */
function basicClientId(header: string | undefined, options: MockProviderOptions): string | undefined {
  if (!header?.startsWith("Basic ")) return undefined;
  const decoded = Buffer.from(header.slice("Basic ".length), "base64").toString("utf8");
  const separator = decoded.indexOf(":");
  if (separator === -1) return undefined;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
  const decode = (value: string) => decodeURIComponent(value.replace(/\+/g, " "));
  const clientId = decode(decoded.slice(0, separator));
  const secret = decode(decoded.slice(separator + 1));
  return clientId === options.clientId && secret === options.clientSecret ? clientId : undefined;
}

/** The authorization request a code was issued for. */
interface IssuedCode {
  nonce: string;
  codeChallenge: string;
  redirectUri: string;
  used: boolean;
}

/**
 * Starts the mock on 127.0.0.1 and a free port. It serves discovery, a JWKS with one RS256 key,
 * and an authorization endpoint that signs the user in at once and redirects back. Its token
 * endpoint checks client authentication, the code, `redirect_uri` and PKCE before it returns an
 * ID token.
 */
export async function startMockProvider(options: MockProviderOptions): Promise<MockProvider> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const stranger = await generateKeyPair("RS256");
  const publicJwk = { ...(await exportJWK(publicKey)), kid: KEY_ID, alg: "RS256", use: "sig" };
  const codes = new Map<string, IssuedCode>();
  let issuer = "";

  const mock: MockProvider = {
    issuer,
    redirectUri: undefined,
    behaviour: {},
    authorizationRequests: [],
    tokenRequests: [],
    callbacks: [],
    reset() {
      mock.behaviour = {};
      mock.authorizationRequests.length = 0;
      mock.tokenRequests.length = 0;
      mock.callbacks.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };

  function authorize(url: URL, response: ServerResponse): void {
    const params = Object.fromEntries(url.searchParams);
    mock.authorizationRequests.push(params);

    const problems = [
      params.response_type === "code" ? undefined : "response_type must be code",
      params.client_id === options.clientId ? undefined : "unknown client_id",
      params.redirect_uri !== undefined && params.redirect_uri === mock.redirectUri ? undefined : "redirect_uri is not registered",
      params.code_challenge_method === "S256" && params.code_challenge ? undefined : "PKCE with S256 is required",
      params.state ? undefined : "state is missing",
      params.nonce ? undefined : "nonce is missing",
      params.scope?.split(" ").includes("openid") ? undefined : "scope must include openid",
    ].filter((problem) => problem !== undefined);
    if (problems.length > 0) {
      sendText(response, 400, `Invalid authorization request: ${problems.join("; ")}`);
      return;
    }

    const callback = new URL(params.redirect_uri!);
    const { behaviour } = mock;
    if (behaviour.authorizationError) {
      callback.searchParams.set("error", behaviour.authorizationError);
      callback.searchParams.set("error_description", `The mock provider returned ${behaviour.authorizationError}.`);
    } else {
      const code = randomBytes(24).toString("base64url");
      codes.set(code, { nonce: params.nonce!, codeChallenge: params.code_challenge!, redirectUri: params.redirect_uri!, used: false });
      callback.searchParams.set("code", code);
    }
    const state = behaviour.tamperState ? params.state!.slice(0, -1) + (params.state!.endsWith("A") ? "B" : "A") : params.state!;
    callback.searchParams.set("state", state);
    callback.searchParams.set("iss", issuer);
    mock.callbacks.push(callback);

    if (behaviour.holdCallback) {
      const href = callback.href.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
      response
        .writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" })
        .end(`<!doctype html><meta charset="utf-8"><title>Mock provider</title><p>Signed in.</p><a href="${href}">Continue</a>`);
      return;
    }
    response.writeHead(302, { Location: callback.href, "Cache-Control": "no-store" }).end();
  }

  async function idToken(issued: IssuedCode): Promise<string> {
    const { behaviour } = mock;
    const flaw = behaviour.idTokenFlaw;
    const now = Math.floor(Date.now() / 1000);
    const issuedAt = flaw === "expired" ? now - 1200 : now;
    const payload: JWTPayload = {
      ...DEFAULT_CLAIMS,
      ...behaviour.claims,
      nonce: flaw === "wrong-nonce" ? `${issued.nonce}x` : issued.nonce,
    };
    const jwt = new SignJWT(payload)
      .setIssuer(issuer)
      .setAudience(flaw === "wrong-audience" ? "another-client" : options.clientId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ID_TOKEN_LIFETIME);

    if (flaw === "hs256") {
      return jwt.setProtectedHeader({ alg: "HS256", kid: KEY_ID }).sign(new TextEncoder().encode(options.clientSecret));
    }
    const key: CryptoKey = flaw === "unknown-key" ? stranger.privateKey : privateKey;
    return jwt.setProtectedHeader({ alg: "RS256", kid: KEY_ID }).sign(key);
  }

  async function token(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const params = Object.fromEntries(new URLSearchParams(await readBody(request)));
    const log: TokenRequestLog = {
      authenticatedClientId: basicClientId(request.headers.authorization, options),
      params,
      pkceVerified: false,
      status: 0,
    };
    mock.tokenRequests.push(log);
    const respond = (status: number, body: unknown) => {
      log.status = status;
      sendJson(response, status, body);
    };

    if (mock.behaviour.tokenEndpointStatus !== undefined) {
      respond(mock.behaviour.tokenEndpointStatus, { error: "server_error", error_description: "The mock token endpoint failed on purpose." });
      return;
    }
    if (log.authenticatedClientId === undefined) {
      respond(401, { error: "invalid_client" });
      return;
    }
    const issued = params.code === undefined ? undefined : codes.get(params.code);
    if (params.grant_type !== "authorization_code" || !issued || issued.used || params.redirect_uri !== issued.redirectUri) {
      respond(400, { error: "invalid_grant" });
      return;
    }
    issued.used = true;
    log.pkceVerified = params.code_verifier !== undefined && base64urlSha256(params.code_verifier) === issued.codeChallenge;
    if (!log.pkceVerified) {
      respond(400, { error: "invalid_grant", error_description: "PKCE verification failed" });
      return;
    }
    respond(200, {
      access_token: randomBytes(24).toString("base64url"),
      token_type: "Bearer",
      expires_in: ID_TOKEN_LIFETIME,
      id_token: await idToken(issued),
    });
  }

  function metadata() {
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ["code"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["client_secret_basic"],
    };
  }

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", issuer);
    const route = `${request.method} ${url.pathname}`;
    if (route === "GET /.well-known/openid-configuration") return sendJson(response, 200, metadata());
    if (route === "GET /jwks") return sendJson(response, 200, { keys: [publicJwk] });
    if (route === "GET /authorize") return authorize(url, response);
    if (route === "POST /token") {
      token(request, response).catch((error: unknown) => sendJson(response, 500, { error: "server_error", error_description: String(error) }));
      return;
    }
    sendText(response, 404, `No route for ${route}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  mock.issuer = issuer;
  return mock;
}
