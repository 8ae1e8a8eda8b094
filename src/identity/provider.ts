import type { Hono } from "hono";
import type { AuthorizationRequest } from "../authorization/request.js";
import type { AppContext, AppEnv } from "../context.js";

/**
 * A way for users to sign in at this server. The authorization endpoint calls `startSignIn` when
 * the browser has no session. The provider ends by starting a session (session.ts) and sending the
 * browser back to the authorization endpoint with the same parameters.
 */
export interface IdentityProvider {
  /**
   * Starts sign-in for a validated authorization request, with a page or a redirect to an
   * upstream provider. `params` are the request's parameters, to resume it afterwards.
   */
  startSignIn(c: AppContext, request: AuthorizationRequest, params: Map<string, string>): Response | Promise<Response>;
  /** Whether approvals are remembered per user and client, so later requests skip the consent page. */
  remembersConsent: boolean;
  /** Routes the provider needs under the issuer path, such as a form post or an upstream callback. */
  routes(): Hono<AppEnv>;
}
