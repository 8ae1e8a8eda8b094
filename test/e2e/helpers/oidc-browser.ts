import type { BrowserContext, Locator, Page, Response } from "playwright-core";

/** How long each step in the browser waits for its page, in milliseconds. */
export const STEP_TIMEOUT_MS = 10_000;

/** A document the browser ended up showing after any redirects. */
export interface DocumentView {
  status: number;
  url: URL;
  /** The visible text of the page body. */
  text: string;
  /** The `X-Request-Id` response header, which the Worker's log lines carry as `requestId`. */
  requestId: string | undefined;
}

function isFinalDocument(page: Page, response: Response): boolean {
  const request = response.request();
  const redirect = response.status() >= 300 && response.status() < 400;
  return request.isNavigationRequest() && request.frame() === page.mainFrame() && !redirect;
}

async function viewOf(page: Page, response: Response): Promise<DocumentView> {
  await page.waitForURL(response.url());
  return {
    status: response.status(),
    url: new URL(response.url()),
    text: await page.locator("body").innerText(),
    requestId: (await response.allHeaders())["x-request-id"],
  };
}

/** Clicks `target` and returns the document the browser shows once every redirect is followed. */
export async function clickAndWaitForDocument(page: Page, target: Locator): Promise<DocumentView> {
  const response = page.waitForResponse((candidate) => isFinalDocument(page, candidate));
  await target.click();
  return viewOf(page, await response);
}

/** Opens `url` as if typed into the address bar and returns the document shown after redirects. */
export async function openDocument(page: Page, url: URL | string): Promise<DocumentView> {
  const response = await page.goto(String(url));
  if (!response) throw new Error(`Opening ${String(url)} produced no response.`);
  return viewOf(page, response);
}

/** Finds the "Return to the application" link of the Worker's error page. */
export function returnLink(page: Page): Locator {
  return page.getByRole("link", { name: "Return to the application" });
}

/** Clicks the error page's return link and returns the URL the client's redirect URI received. */
export async function followReturnLink(page: Page): Promise<URL> {
  const view = await clickAndWaitForDocument(page, returnLink(page));
  return view.url;
}

/** A page the user acted on during one authorization, in order. */
export type SignInStep = "consent" | "upstream-login" | "upstream-consent";

/** What happened in the browser during one authorization. */
export interface UpstreamSignIn {
  /** The URL the browser arrived at, the client's redirect URI with the response parameters. */
  callback: URL;
  steps: SignInStep[];
  /** Text of this server's consent page, when it was shown. */
  consentText: string | undefined;
  /** Every URL the browser navigated to, redirects included, in order. */
  navigations: URL[];
}

export interface UpstreamCredentials {
  login: string;
  password: string;
}

/** Upper bound on pages per authorization, so an unexpected loop fails instead of hanging. */
const MAX_STEPS = 6;

/**
 * Follows an authorization URL in a new tab of `context` the way a user does, until the browser
 * reaches `redirectUri`. The user approves the client on this server's consent page, types the
 * login and password into oidc-provider's development login form, and confirms its consent page.
 * Pages that are not shown are skipped, so a remembered session or consent shows up as fewer steps.
 * @throws {Error} with the page's text when the browser shows a page none of these steps expects
 */
export async function signInUpstream(
  context: BrowserContext,
  authorizationUrl: URL,
  credentials: UpstreamCredentials,
  redirectUri: string,
): Promise<UpstreamSignIn> {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const navigations: URL[] = [];
  page.on("request", (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) navigations.push(new URL(request.url()));
  });
  const steps: SignInStep[] = [];
  let consentText: string | undefined;

  const approve = page.getByRole("button", { name: "Approve" });
  const login = page.getByPlaceholder("Enter any login");
  const password = page.getByPlaceholder("and password");
  const upstreamSignIn = page.getByRole("button", { name: "Sign-in" });
  const upstreamConsent = page.getByRole("button", { name: "Continue" });

  /** Clicks a submit button and waits until the next document has replaced the page. */
  async function submit(button: Locator): Promise<void> {
    await button.click();
    await button.waitFor({ state: "detached" });
    await page.waitForLoadState();
  }

  try {
    await page.goto(authorizationUrl.href);
    while (!page.url().startsWith(redirectUri)) {
      if (steps.length >= MAX_STEPS) throw new Error(`No redirect to ${redirectUri} after steps ${steps.join(", ")}.`);

      if (await approve.isVisible()) {
        steps.push("consent");
        consentText = await page.locator("body").innerText();
        await submit(approve);
      } else if (await login.isVisible()) {
        steps.push("upstream-login");
        await login.fill(credentials.login);
        await password.fill(credentials.password);
        await submit(upstreamSignIn);
      } else if (await upstreamConsent.isVisible()) {
        steps.push("upstream-consent");
        await submit(upstreamConsent);
      } else {
        const text = await page.locator("body").innerText();
        throw new Error(`Unexpected page at ${page.url()} after steps [${steps.join(", ")}]:\n${text}`);
      }
    }
    return { callback: new URL(page.url()), steps, consentText, navigations };
  } finally {
    await page.close();
  }
}
