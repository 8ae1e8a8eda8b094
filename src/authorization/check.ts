import type { AppContext } from "../context.js";
import { OAuthError, toOAuthError } from "../errors.js";
import { errorPage } from "./pages.js";
import { type AuthorizationRequest, redirectToClient, resolveClient, validateAuthorizationRequest } from "./request.js";

type Checked = { request: AuthorizationRequest } | { response: Response | Promise<Response> };

/** Validates the request, turning each error into a page or a redirect as RFC 6749 §4.1.2.1 requires. */
export async function checkRequest(c: AppContext, params: Map<string, string>): Promise<Checked> {
  let resolved;
  try {
    resolved = await resolveClient(c, params);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return { response: errorPage(c, error) };
  }

  try {
    return { request: validateAuthorizationRequest(c, resolved.client, resolved.target, params) };
  } catch (error) {
    const oauthError = toOAuthError(error);
    c.set("error", oauthError);
    return {
      response: redirectToClient(c, resolved.target, { error: oauthError.code, error_description: oauthError.description }),
    };
  }
}

