import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import type { JWTPayload } from "jose";
import { checkRequest } from "../authorization/check.js";
import { issueCode } from "../authorization/codes.js";
import { rememberConsent } from "../authorization/consents.js";
import { consentPage, errorPage, invalidConsentFormPage } from "../authorization/pages.js";
import { type AuthorizationRequest, clientRedirectUrl } from "../authorization/request.js";
import type { Config } from "../config.js";
import { type AppContext, type AppEnv, logEvent } from "../context.js";
import { matchesHash, randomToken, sha256 } from "../crypto.js";
import { type ErrorCode, OAuthError } from "../errors.js";
import { readForm, singleValues } from "../http.js";
import { setHostCookie, startSession } from "../session.js";
import { upsertUser } from "../users.js";
import type { IdentityProvider } from "./provider.js";
import { exchangeCode, fetchUserInfo, UpstreamError, upstreamMetadata, verifyIdToken } from "./upstream.js";

/**
 * Binds consent and the upstream transaction to this browser: the consent form echoes it (so
 * another site cannot post an approval) and the callback must come with it (so a callback cannot
 * be replayed in another browser).
 */
const BROWSER_COOKIE = "__Host-upstream" as const;
/** How long the user has to finish signing in upstream, in seconds. */
const TRANSACTION_TTL = 600;

function browserBinding(c: AppContext): string {
  const existing = getCookie(c, BROWSER_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const value = randomToken();
  setHostCookie(c, BROWSER_COOKIE, value, TRANSACTION_TTL);
  return value;
}

/** Checks the user against the configured allow-lists of subjects and email domains. */
function allowed(config: Config, claims: JWTPayload): boolean {
  const subjects = config.OIDC_ALLOWED_SUBJECTS;
  const domains = config.OIDC_ALLOWED_EMAIL_DOMAINS;
  if (subjects.length === 0 && domains.length === 0) return true;
  if (subjects.includes(claims.sub!)) return true;

  const email = typeof claims.email === "string" ? claims.email.toLowerCase() : undefined;
  // The domain follows the last "@": a quoted local part may contain "@" itself (RFC 5321 §4.1.2).
  const domain = email?.slice(email.lastIndexOf("@") + 1);
  // An unverified address proves nothing about the domain.
  return domain !== undefined && claims.email_verified !== false && domains.some((entry) => entry.toLowerCase() === domain);
}

/**
 * Signs users in at an upstream OpenID Connect provider with the authorization code flow, PKCE,
 * `state` and `nonce`. This server has one client id upstream for all of its own clients, so
 * the user approves each MCP client here before being sent upstream. Otherwise a provider that
 * signs in silently would hand any registered client a code (the confused deputy problem in the
 * MCP security best practices). The approval is remembered per user and client.
 */
export function oidcIdentity(config: Config, basePath: string): IdentityProvider {
  const consentAction = `${basePath}/authorize/upstream`;
  const callbackUrl = `${config.ISSUER}/oidc/callback`;

  /** Shows the failure to the user, with a link that gives the client the error it is owed. */
  function fail(c: AppContext, request: AuthorizationRequest, code: ErrorCode, description: string, reason: string) {
    logEvent(c, "upstream_sign_in_failed", { client_id: request.client.client_id, reason });
    const error = new OAuthError(code, description, { status: code === "temporarily_unavailable" ? 503 : 400, cause: reason });
    return errorPage(c, error, clientRedirectUrl(c, request, { error: code, error_description: description }));
  }

  async function startSignIn(c: AppContext, request: AuthorizationRequest, params: Map<string, string>) {
    const csrfToken = browserBinding(c);
    return consentPage(c, request, params, { csrfToken, action: consentAction, signInAt: new URL(config.OIDC_ISSUER!).host });
  }

  /** Opens an upstream transaction after the user approved the client, and redirects the browser upstream. */
  async function continueUpstream(c: AppContext) {
    const params = await readForm(c);
    const submitted = params.get("csrf_token");
    const decision = params.get("decision");
    params.delete("csrf_token");
    params.delete("decision");

    const checked = await checkRequest(c, params);
    if ("response" in checked) return checked.response;
    const { request } = checked;

    const binding = getCookie(c, BROWSER_COOKIE);
    if (!binding || !submitted || !(await matchesHash(submitted, await sha256(binding)))) {
      return invalidConsentFormPage(c, "upstream consent CSRF token mismatch");
    }
    if (decision !== "approve") {
      const error = new OAuthError("access_denied", "The user denied the request.");
      c.set("error", error);
      return c.redirect(clientRedirectUrl(c, request, { error: error.code, error_description: error.description }), 303);
    }

    let metadata;
    try {
      metadata = await upstreamMetadata(config);
    } catch (cause) {
      const unreachable = cause instanceof UpstreamError && cause.unreachable;
      return fail(
        c,
        request,
        unreachable ? "temporarily_unavailable" : "server_error",
        "The identity provider is unavailable. Try again later.",
        String(cause),
      );
    }

    // The binding cookie must live as long as the transaction that starts now.
    setHostCookie(c, BROWSER_COOKIE, binding, TRANSACTION_TTL);
    const state = randomToken();
    const nonce = randomToken();
    const codeVerifier = randomToken();
    const now = c.var.now();
    params.set("consent", "approved");
    await c.env.DB.prepare(
      `INSERT INTO upstream_transactions (state_hash, browser_hash, nonce, code_verifier, params, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
      .bind(await sha256(state), await sha256(binding), nonce, codeVerifier, JSON.stringify([...params]), now, now + TRANSACTION_TTL)
      .run();

    const url = new URL(metadata.authorization_endpoint);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", config.OIDC_CLIENT_ID!);
    url.searchParams.set("redirect_uri", callbackUrl);
    url.searchParams.set("scope", config.OIDC_SCOPES.join(" "));
    url.searchParams.set("state", state);
    url.searchParams.set("nonce", nonce);
    // RFC 7636 §4.2: the S256 challenge is the base64url SHA-256 of the verifier.
    url.searchParams.set("code_challenge", await sha256(codeVerifier));
    url.searchParams.set("code_challenge_method", "S256");
    return c.redirect(url.href, 303);
  }

  /** Handles the upstream redirect back: verifies the ID token, signs the user in and redirects to the client. */
  async function callback(c: AppContext) {
    const query = singleValues(new URL(c.req.url).searchParams);
    const state = query.get("state");
    const now = c.var.now();
    const rejectCallback = (description: string, reason: string) => {
      logEvent(c, "upstream_callback_rejected", { reason });
      return errorPage(c, new OAuthError("invalid_request", description, { cause: reason }));
    };
    if (!state) return rejectCallback("The sign-in response has no state. Start the sign-in again from the application.", "missing state");

    const stateHash = await sha256(state);
    const transaction = await c.env.DB.prepare("SELECT * FROM upstream_transactions WHERE state_hash = ?")
      .bind(stateHash)
      .first<{ browser_hash: string; nonce: string; code_verifier: string; params: string; expires_at: number; used_at: number | null }>();
    if (!transaction) {
      return rejectCallback("This sign-in response is unknown or expired. Start the sign-in again from the application.", "unknown state");
    }

    const binding = getCookie(c, BROWSER_COOKIE);
    if (!binding || !(await matchesHash(binding, transaction.browser_hash))) {
      return rejectCallback(
        "This sign-in response was started in another browser. Start the sign-in again from the application.",
        "state does not belong to this browser",
      );
    }
    // Single use: only the first callback with this state may continue.
    const claimed = await c.env.DB.prepare("UPDATE upstream_transactions SET used_at = ? WHERE state_hash = ? AND used_at IS NULL")
      .bind(now, stateHash)
      .run();
    if (claimed.meta.changes !== 1) {
      return rejectCallback("This sign-in response was already used. Start the sign-in again from the application.", "callback replayed");
    }
    if (transaction.expires_at <= now) {
      return rejectCallback("The sign-in took too long and expired. Start the sign-in again from the application.", "transaction expired");
    }

    const params = new Map<string, string>(JSON.parse(transaction.params) as [string, string][]);
    params.delete("consent");
    const checked = await checkRequest(c, params);
    if ("response" in checked) return checked.response;
    const { request } = checked;

    const upstreamError = query.get("error");
    if (upstreamError !== undefined) {
      const denied = upstreamError === "access_denied";
      const detail = query.get("error_description");
      return fail(
        c,
        request,
        denied ? "access_denied" : "server_error",
        denied ? "Sign-in was cancelled at the identity provider." : "The identity provider reported an error during sign-in.",
        `upstream error ${upstreamError}${detail ? `: ${detail}` : ""}`,
      );
    }
    const code = query.get("code");
    if (!code) return fail(c, request, "server_error", "The identity provider sent no authorization code.", "callback without code");

    let claims: JWTPayload;
    try {
      const metadata = await upstreamMetadata(config);
      const tokens = await exchangeCode(config, metadata, code, transaction.code_verifier, callbackUrl);
      claims = await verifyIdToken(config, metadata, tokens.idToken, transaction.nonce, now);
      // OpenID Connect Core §5.4: with the code flow, providers may return profile and email
      // claims only from the userinfo endpoint.
      if (claims.name === undefined && claims.email === undefined) {
        claims = { ...claims, ...(await fetchUserInfo(metadata, tokens.accessToken, claims.sub!)) };
      }
    } catch (cause) {
      const unreachable = cause instanceof UpstreamError && cause.unreachable;
      return fail(
        c,
        request,
        unreachable ? "temporarily_unavailable" : "server_error",
        unreachable ? "The identity provider is unavailable. Try again later." : "The sign-in at the identity provider could not be verified.",
        String(cause),
      );
    }

    if (!allowed(config, claims)) {
      return fail(c, request, "access_denied", "This account is not allowed to sign in here.", `subject ${claims.sub} not on the allow-list`);
    }

    const name = [claims.name, claims.preferred_username, claims.email].find((value) => typeof value === "string") as string | undefined;
    const email = typeof claims.email === "string" ? claims.email : undefined;
    const user = await upsertUser(
      c.env.DB,
      { issuer: String(claims.iss), subject: claims.sub!, ...(name ? { name } : {}), ...(email ? { email } : {}) },
      now,
    );
    await startSession(c, user);
    await rememberConsent(c.env.DB, user.id, request, now);

    const authorizationCode = await issueCode(c, request, user);
    return c.redirect(clientRedirectUrl(c, request, { code: authorizationCode }), 302);
  }

  return {
    startSignIn,
    remembersConsent: true,
    routes: () => new Hono<AppEnv>().post("/authorize/upstream", continueUpstream).get("/oidc/callback", callback),
  };
}
