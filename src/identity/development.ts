import { Hono } from "hono";
import { checkRequest } from "../authorization/check.js";
import { consentPage, errorPage, signInPage } from "../authorization/pages.js";
import type { AppContext, AppEnv } from "../context.js";
import { OAuthError } from "../errors.js";
import { readForm } from "../http.js";
import { startSession } from "../session.js";
import { upsertUser } from "../users.js";
import type { IdentityProvider } from "./provider.js";

/** The `issuer` of users created by development sign-in. */
export const DEVELOPMENT_ISSUER = "development";

/**
 * Signs anyone in by the user name they type, with no password. Configuration allows it only
 * with a loopback issuer, for local development and tests.
 */
export function developmentIdentity(basePath: string): IdentityProvider {
  const action = `${basePath}/authorize/sign-in`;
  const consentAction = `${basePath}/authorize`;

  async function signIn(c: AppContext) {
    const params = await readForm(c);
    const username = params.get("username")?.trim() ?? "";
    params.delete("username");
    if (username.length === 0 || username.length > 100) {
      return errorPage(c, new OAuthError("invalid_request", '"username" must be 1 to 100 characters.'));
    }

    const checked = await checkRequest(c, params);
    if ("response" in checked) return checked.response;

    const now = c.var.now();
    const user = await upsertUser(c.env.DB, { issuer: DEVELOPMENT_ISSUER, subject: username, name: username }, now);
    const session = await startSession(c, user);

    // The consent page comes straight from the sign-in post, which saves the browser a redirect
    // back to the authorization endpoint.
    return consentPage(c, checked.request, params, { csrfToken: session.csrfToken, userName: session.userName, action: consentAction });
  }

  return {
    startSignIn: (c, _request, params) => signInPage(c, action, params),
    remembersConsent: false,
    routes: () => new Hono<AppEnv>().post("/authorize/sign-in", signIn),
  };
}
