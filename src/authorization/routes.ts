import { Hono } from "hono";
import type { AppContext, AppEnv } from "../context.js";
import { OAuthError, toOAuthError } from "../errors.js";
import { readForm, singleValues } from "../http.js";
import type { IdentityProvider } from "../identity/provider.js";
import { checkCsrfToken, currentSession } from "../session.js";
import { issueCode } from "./codes.js";
import { consentPage, errorPage, invalidConsentFormPage } from "./pages.js";
import { checkRequest } from "./check.js";
import { hasConsent, rememberConsent } from "./consents.js";
import { redirectToClient } from "./request.js";

/** Parameters of the consent form that are not part of the authorization request. */
const FORM_FIELDS = ["csrf_token", "decision"];

/** Routes of the authorization endpoint (RFC 6749 §3.1) and its consent form. */
export function authorizationRoutes(identity: IdentityProvider, basePath: string): Hono<AppEnv> {
  const action = `${basePath}/authorize`;

  async function show(c: AppContext) {
    let params: Map<string, string>;
    try {
      params = singleValues(new URL(c.req.url).searchParams);
    } catch (error) {
      return errorPage(c, toOAuthError(error));
    }

    // Independent look-ups, so they run together: one D1 round trip instead of two.
    const [checked, session] = await Promise.all([checkRequest(c, params), currentSession(c)]);
    if ("response" in checked) return checked.response;
    if (!session) return identity.startSignIn(c, checked.request, params);

    if (identity.remembersConsent && (await hasConsent(c.env.DB, session.userId, checked.request))) {
      const code = await issueCode(c, checked.request, { id: session.userId, name: session.userName });
      return redirectToClient(c, checked.request, { code });
    }
    return consentPage(c, checked.request, params, { csrfToken: session.csrfToken, userName: session.userName, action });
  }

  async function decide(c: AppContext) {
    let params: Map<string, string>;
    try {
      params = await readForm(c);
    } catch (error) {
      return errorPage(c, toOAuthError(error));
    }
    const csrfToken = params.get("csrf_token");
    const decision = params.get("decision");
    for (const field of FORM_FIELDS) params.delete(field);

    const [checked, session] = await Promise.all([checkRequest(c, params), currentSession(c)]);
    if ("response" in checked) return checked.response;
    const { request } = checked;
    if (!session) return identity.startSignIn(c, request, params);
    // The form is only valid with the token of the session that rendered it, so another site
    // cannot post an approval on the user's behalf.
    if (!(await checkCsrfToken(session, csrfToken))) {
      return invalidConsentFormPage(c, csrfToken ? "CSRF token mismatch" : "CSRF token missing");
    }

    if (decision !== "approve") {
      const error = new OAuthError("access_denied", "The user denied the request.");
      c.set("error", error);
      return redirectToClient(c, request, { error: error.code, error_description: error.description });
    }

    if (identity.remembersConsent) await rememberConsent(c.env.DB, session.userId, request, c.var.now());
    const code = await issueCode(c, request, { id: session.userId, name: session.userName });
    return redirectToClient(c, request, { code });
  }

  return new Hono<AppEnv>().get("/authorize", show).post("/authorize", decide);
}
