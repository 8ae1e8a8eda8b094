import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { AppContext } from "../context.js";
import { OAuthError } from "../errors.js";
import { isLoopbackRedirect, isPrivateUseRedirect } from "../redirect-uri.js";
import type { AuthorizationRequest } from "./request.js";

/**
 * Headers of every page: the pages must not be framed (clickjacking of the approve button),
 * cached, or leak the request's query in a Referer.
 */
const PAGE_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

const STYLE = raw(`<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.warning{background:#fff4ce;border:1px solid #e0c060;padding:.5rem .75rem;border-radius:4px}
button,input{font:inherit;padding:.4rem .9rem;margin-right:.5rem}code{background:#f2f2f2;padding:0 .2rem}
</style>`);

function layout(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>${STYLE}</head><body>${body}</body></html>`;
}

/** Hidden inputs that carry the authorization request's parameters through a form post. */
function hiddenParams(params: Map<string, string>) {
  return [...params].map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
}

/**
 * Renders an error for the user. Without `returnTo` it is an error that must not be redirected,
 * such as an unknown client or redirect URI. With it, the page links to the client's redirect URI
 * carrying the error, which the client is owed.
 */
export function errorPage(c: AppContext, error: OAuthError, returnTo?: string): Response | Promise<Response> {
  c.set("error", error);
  const next = returnTo
    ? html`<p><a href="${returnTo}">Return to the application</a>; it will be told that sign-in failed.</p>`
    : html`<p>Go back to the application and start the sign-in again.</p>`;
  const body = html`<h1>This sign-in request cannot continue</h1>
<p>${error.description}</p>
<p>Error code: <code>${error.code}</code>.</p>
${next}`;
  return c.html(layout("Authorization error", body), error.status as 400, PAGE_HEADERS);
}

/** Renders the 403 page for a consent form whose CSRF token is missing or does not match. */
export function invalidConsentFormPage(c: AppContext, cause: string): Response | Promise<Response> {
  const description = "The consent form is invalid or expired. Start the sign-in again from the application.";
  return errorPage(c, new OAuthError("invalid_request", description, { status: 403, cause }));
}

/** Renders the development sign-in form, which takes a user name and no password. */
export function signInPage(c: AppContext, action: string, params: Map<string, string>): Response | Promise<Response> {
  const body = html`<h1>Sign in</h1>
<p class="warning">Development sign-in: any user name is accepted. It is enabled only on a loopback issuer.</p>
<form method="post" action="${action}">
${hiddenParams(params)}
<label>User name <input name="username" required maxlength="100" autofocus></label>
<button type="submit">Sign in</button>
</form>`;
  return c.html(layout("Sign in", body), 200, PAGE_HEADERS);
}

function redirectDescription(redirectUri: string) {
  const url = new URL(redirectUri);
  if (isLoopbackRedirect(url)) {
    return html`<p class="warning">The code goes to <code>${url.host}</code>, a program on this computer. Approve only if you started the sign-in from an application you trust.</p>`;
  }
  if (isPrivateUseRedirect(url)) {
    return html`<p class="warning">The code goes to the app that handles <code>${url.protocol}</code> links on this device. Any installed app can claim such a scheme; approve only if you started the sign-in from an application you trust.</p>`;
  }
  return html`<p>After you approve, you return to <code>${url.host}</code>.</p>`;
}

export interface ConsentForm {
  csrfToken: string;
  action: string;
  /** The signed-in user; absent when consent comes before sign-in at an upstream provider. */
  userName?: string;
  /** Host of the upstream provider, shown when consent comes before sign-in there. */
  signInAt?: string;
}

/** Renders the consent page. Every client-supplied string is escaped by the `html` template. */
export function consentPage(
  c: AppContext,
  request: AuthorizationRequest,
  params: Map<string, string>,
  form: ConsentForm,
): Response | Promise<Response> {
  const clientName = request.client.metadata.client_name ?? request.client.client_id;
  const scopes = request.scope.split(" ").map((scope) => html`<li><code>${scope}</code></li>`);
  const body = html`<h1>Allow ${clientName} to access your account?</h1>
${form.userName === undefined ? "" : html`<p>Signed in as <strong>${form.userName}</strong>.</p>`}
${form.signInAt === undefined ? "" : html`<p>If you approve, you sign in at <code>${form.signInAt}</code> next.</p>`}
${redirectDescription(request.redirectUri)}
<p>It asks for these scopes on <code>${request.resource}</code>:</p>
<ul>${scopes}</ul>
<form method="post" action="${form.action}">
${hiddenParams(params)}
<input type="hidden" name="csrf_token" value="${form.csrfToken}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`;
  return c.html(layout("Authorize application", body), 200, PAGE_HEADERS);
}
