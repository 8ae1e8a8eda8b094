import type { Browser, Page } from "playwright-core";
import type { UserAgent } from "./mcp-oauth-provider.js";
import { type PageServer, servePages } from "./page-server.js";

/** How long each step of the sign-in waits for its page, in milliseconds. */
const STEP_TIMEOUT_MS = 10_000;

/** What the user saw and where the browser ended up. */
export interface SignInResult {
  /** The URL the authorization server redirected to, query included. */
  callback: URL;
  /** Text of the consent page, as the user read it before approving. */
  consentText: string;
}

/**
 * Signs in on a page that shows the development sign-in form: types `username`, submits, clicks
 * Approve on the consent page and waits until the browser arrives at `redirectUri`.
 */
export async function signInOnPage(page: Page, username: string, redirectUri: string): Promise<SignInResult> {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  await page.getByLabel("User name").fill(username);
  await page.getByRole("button", { name: "Sign in" }).click();

  const approve = page.getByRole("button", { name: "Approve" });
  await approve.waitFor();
  const consentText = await page.locator("body").innerText();
  await approve.click();

  await page.waitForURL((url) => url.href.startsWith(redirectUri));
  return { callback: new URL(page.url()), consentText };
}

/**
 * Opens the authorization URL in a fresh browser context, which has no session cookie, and signs
 * in there with `signInOnPage`.
 */
export async function signInAndApprove(
  browser: Browser,
  authorizationUrl: URL,
  username: string,
  redirectUri: string,
): Promise<SignInResult> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    await page.goto(authorizationUrl.href);
    return await signInOnPage(page, username, redirectUri);
  } finally {
    await context.close();
  }
}

/** A user agent for `MemoryOAuthProvider`, with a record of each sign-in. */
export interface BrowserUser {
  userAgent: UserAgent;
  /** One result per sign-in, in order. */
  signIns: SignInResult[];
}

/** Creates a user who signs in as `username` in a fresh browser context whenever a client sends them to authorize. */
export function browserUser(browser: Browser, username: string, redirectUri: string): BrowserUser {
  const signIns: SignInResult[] = [];
  return {
    signIns,
    userAgent: async (authorizationUrl) => {
      const result = await signInAndApprove(browser, authorizationUrl, username, redirectUri);
      signIns.push(result);
      return result.callback;
    },
  };
}

const CALLBACK_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Signed in</title>
<p>Authorization finished. You can close this window.</p>
`;

/** A loopback redirect URI served on 127.0.0.1, as a native MCP client listens for the code. */
export interface LoopbackCallback {
  redirectUri: string;
  server: PageServer;
}

/** Serves `/callback` on 127.0.0.1 and a free port. */
export async function startLoopbackCallback(): Promise<LoopbackCallback> {
  const server = await servePages({ "/callback": CALLBACK_PAGE }, { hostname: "127.0.0.1" });
  return { server, redirectUri: `${server.origin}/callback` };
}
