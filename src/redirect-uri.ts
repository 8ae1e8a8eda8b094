/**
 * Rules for redirect URIs, shared by registration (which URIs a client may register) and the
 * authorization endpoint (which registered URI a request names).
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7 native app redirect URIs
 */

/** Schemes that can run code or read local data in the browser, so they are never redirect targets. */
const FORBIDDEN_SCHEMES = new Set([
  "javascript:",
  "data:",
  "file:",
  "vbscript:",
  "blob:",
  "about:",
  "filesystem:",
  "view-source:",
  "ws:",
  "wss:",
  "ftp:",
  "mailto:",
  "tel:",
  "chrome:",
  "chrome-extension:",
  "moz-extension:",
  "intent:",
]);

/** True for `localhost`, any 127.0.0.0/8 address and `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Checks one redirect URI a client asks to register.
 * @returns a description of what is wrong, or `undefined` when the URI is acceptable
 */
export function checkRedirectUri(value: string): string | undefined {
  if (!URL.canParse(value)) return "is not an absolute URI";
  const url = new URL(value);

  // RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."
  if (value.includes("#")) return "must not contain a fragment";
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.username || url.password) return "must not contain user information";

  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:") {
    // RFC 8252 §7.3 and §8.3: plain http only for the loopback interface.
    return isLoopbackHost(url.hostname) ? undefined : "must use https unless the host is loopback";
  }

  // RFC 8252 §7.1: a private-use scheme of a native app, such as cursor:// or com.example.app:/.
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? undefined : "has an invalid scheme";
}

/** True for an http redirect URI on a loopback host, whose port may change per request. */
export function isLoopbackRedirect(url: URL): boolean {
  return url.protocol === "http:" && isLoopbackHost(url.hostname);
}

/** True for a redirect URI on a private-use scheme of a native app. */
export function isPrivateUseRedirect(url: URL): boolean {
  return url.protocol !== "http:" && url.protocol !== "https:";
}

/**
 * Finds the registered redirect URI that a request's `redirect_uri` names. Every redirect check
 * goes through here, so registration, authorization and the token endpoint agree.
 *
 * Matching is exact string comparison, except that a loopback http URI matches with any port
 * (RFC 8252 §7.3: "MUST allow any port to be specified at the time of the request for loopback IP
 * redirect URIs"). When `requested` is absent, the only registered URI is used (RFC 6749 §3.1.2.3).
 *
 * @returns the URI to redirect to, or `undefined` when none matches
 */
export function matchRedirectUri(registered: readonly string[], requested: string | undefined): string | undefined {
  if (requested === undefined) return registered.length === 1 ? registered[0] : undefined;
  if (registered.includes(requested)) return requested;
  if (!URL.canParse(requested) || requested.includes("#")) return undefined;

  const url = new URL(requested);
  if (!isLoopbackRedirect(url)) return undefined;

  const matches = registered.some((candidate) => {
    if (!URL.canParse(candidate)) return false;
    const other = new URL(candidate);
    return (
      isLoopbackRedirect(other) &&
      other.hostname === url.hostname &&
      other.pathname === url.pathname &&
      other.search === url.search
    );
  });
  return matches ? requested : undefined;
}
