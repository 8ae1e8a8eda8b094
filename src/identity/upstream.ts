import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import type { Config } from "../config.js";

/** The parts of the upstream provider's metadata this server uses (OpenID Connect Discovery 1.0 §3). */
export interface UpstreamMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
  token_endpoint_auth_methods_supported?: string[];
}

/** An upstream failure, with the reason for the log and whether the provider is unavailable (unreachable or 5xx). */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    message: string,
    readonly unreachable = false,
  ) {
    super(message);
  }
}

const METADATA_TTL_MS = 3600_000;
const TIMEOUT_MS = 10_000;
const metadataCache = new Map<string, { metadata: Promise<UpstreamMetadata>; fetchedAt: number }>();
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

async function fetchUpstream(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "manual" });
  } catch (cause) {
    throw new UpstreamError(`request to ${url} failed: ${String(cause)}`, true);
  }
}

async function discover(issuer: string): Promise<UpstreamMetadata> {
  const url = `${issuer}/.well-known/openid-configuration`;
  const response = await fetchUpstream(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new UpstreamError(`${url} returned HTTP ${response.status}`, response.status >= 500);

  const metadata = (await response.json()) as Partial<UpstreamMetadata>;
  // OpenID Connect Discovery §4.3: the issuer in the document must be identical to the one configured.
  if (metadata.issuer !== issuer) throw new UpstreamError(`metadata issuer ${String(metadata.issuer)} is not ${issuer}`);
  for (const field of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
    if (typeof metadata[field] !== "string" || !URL.canParse(metadata[field])) {
      throw new UpstreamError(`metadata ${field} is missing or not a URL`);
    }
  }
  return metadata as UpstreamMetadata;
}

/** Returns the upstream metadata, fetched once per isolate and again after an hour or a failure. */
export function upstreamMetadata(config: Config): Promise<UpstreamMetadata> {
  const issuer = config.OIDC_ISSUER!;
  const cached = metadataCache.get(issuer);
  if (cached && Date.now() - cached.fetchedAt < METADATA_TTL_MS) return cached.metadata;

  const metadata = discover(issuer);
  metadata.catch(() => metadataCache.delete(issuer));
  metadataCache.set(issuer, { metadata, fetchedAt: Date.now() });
  return metadata;
}

/** Exchanges the upstream authorization code for tokens and returns the ID token and access token. */
export async function exchangeCode(
  config: Config,
  metadata: UpstreamMetadata,
  code: string,
  codeVerifier: string,
  redirectUri: string,
): Promise<{ idToken: string; accessToken: string | undefined }> {
  const body = new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: codeVerifier, redirect_uri: redirectUri });
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" };

  // client_secret_basic is the default method (OpenID Connect Core §9); use post only when basic is not offered.
  const methods = metadata.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
  if (methods.includes("client_secret_basic")) {
    const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
    headers.Authorization = `Basic ${btoa(`${encode(config.OIDC_CLIENT_ID!)}:${encode(config.OIDC_CLIENT_SECRET!)}`)}`;
  } else {
    body.set("client_id", config.OIDC_CLIENT_ID!);
    body.set("client_secret", config.OIDC_CLIENT_SECRET!);
  }

  const response = await fetchUpstream(metadata.token_endpoint, { method: "POST", headers, body });
  const tokens = (await response.json().catch(() => ({}))) as { id_token?: unknown; access_token?: unknown; error?: unknown };
  if (!response.ok) {
    throw new UpstreamError(`token endpoint returned HTTP ${response.status} ${String(tokens.error ?? "")}`, response.status >= 500);
  }
  if (typeof tokens.id_token !== "string") throw new UpstreamError("token response has no id_token");
  return { idToken: tokens.id_token, accessToken: typeof tokens.access_token === "string" ? tokens.access_token : undefined };
}

/**
 * Reads the profile claims from the userinfo endpoint (OpenID Connect Core §5.3). Its `sub` must
 * equal the ID token's (§5.3.2), else the response is rejected.
 * @returns the claims, or none when the provider has no userinfo endpoint or gave no access token
 */
export async function fetchUserInfo(metadata: UpstreamMetadata, accessToken: string | undefined, subject: string): Promise<JWTPayload> {
  if (!metadata.userinfo_endpoint || !accessToken) return {};
  const response = await fetchUpstream(metadata.userinfo_endpoint, {
    headers: { Authorization: `Bearer ${accessToken}`, Accept: "application/json" },
  });
  if (!response.ok) throw new UpstreamError(`userinfo endpoint returned HTTP ${response.status}`, response.status >= 500);

  const claims = (await response.json().catch(() => undefined)) as JWTPayload | undefined;
  if (!claims || claims.sub !== subject) throw new UpstreamError("userinfo sub does not match the ID token");
  return { name: claims.name, preferred_username: claims.preferred_username, email: claims.email, email_verified: claims.email_verified };
}

/**
 * Verifies an ID token (OpenID Connect Core §3.1.3.7) with jose: signature against the upstream
 * JWKS, `alg` from the allow-list, `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`.
 */
export async function verifyIdToken(
  config: Config,
  metadata: UpstreamMetadata,
  idToken: string,
  nonce: string,
  now: number,
): Promise<JWTPayload> {
  let keySet = keySets.get(metadata.jwks_uri);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: TIMEOUT_MS });
    keySets.set(metadata.jwks_uri, keySet);
  }

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keySet, {
      issuer: metadata.issuer,
      audience: config.OIDC_CLIENT_ID!,
      algorithms: config.OIDC_ID_TOKEN_ALGORITHMS,
      currentDate: new Date(now * 1000),
      clockTolerance: 60,
      requiredClaims: ["sub", "iat", "exp"],
    }));
  } catch (cause) {
    throw new UpstreamError(`ID token rejected: ${String(cause)}`);
  }

  if (payload.nonce !== nonce) throw new UpstreamError("ID token nonce does not match the transaction");
  if (payload.iat! > now + 60) throw new UpstreamError("ID token iat is in the future");
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (audiences.length > 1 && payload.azp !== config.OIDC_CLIENT_ID) {
    throw new UpstreamError("ID token has several audiences and azp is not this client");
  }
  return payload;
}
