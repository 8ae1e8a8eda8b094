import { type Browser, chromium, type Page } from "playwright-core";

/** Path of the Debian `chromium` package's binary. Set CHROMIUM_PATH to use another build. */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Host names other than localhost and 127.0.0.1 fail to resolve, so the browser reaches no other host by name.
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
];

/** Launches headless Chromium with a fresh temporary profile, which Playwright deletes on close. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Collects the page's console errors and uncaught exceptions. Chromium reports a blocked
 * cross-origin read only there, so tests add these lines to their failure messages.
 */
export function collectConsoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`${error.name}: ${error.message}`));
  return errors;
}
