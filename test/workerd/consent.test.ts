import { describe, expect, it } from "vitest";
import {
  authorizationQuery,
  confidentialClientBody,
  createPkce,
  csrfTokenOf,
  escapeHtml,
  expectErrorPage,
  type HtmlForm,
  openConsent,
  publicClientBody,
  readForms,
  registerClient,
  RESOURCE,
  sessionSetCookie,
  signIn,
  startServer,
  submitConsent,
  type TestServer,
} from "./flow-helpers.js";

const CSRF_FAILURE = "The consent form is invalid or expired. Start the sign-in again from the application.";

/** Registers a client from `body` and opens its consent page as a signed-in user. */
async function consentFor(server: TestServer, body: Record<string, unknown>, username = "alice") {
  const client = await registerClient(server, body);
  const { challenge } = await createPkce();
  const query = authorizationQuery(client, challenge);
  const session = await signIn(server, query, username);
  return { client, query, session, ...(await openConsent(server, session)) };
}

/** Returns the form's fields with `csrf_token` set to `value`, or left out when `value` is undefined. */
function withCsrfToken(form: HtmlForm, value: string | undefined): [string, string][] {
  const fields = form.fields.filter(([name]) => name !== "csrf_token");
  if (value !== undefined) fields.push(["csrf_token", value]);
  return fields;
}

/** Splits a `Set-Cookie` header into its lower-case attributes, without the name and value. */
function cookieAttributes(setCookie: string): string[] {
  return setCookie
    .split(";")
    .slice(1)
    .map((attribute) => attribute.trim().toLowerCase());
}

describe("consent page", () => {
  it("names the client, user, scopes and resource", async () => {
    const server = startServer();

    const { html } = await consentFor(server, publicClientBody({ client_name: "Test agent" }), "alice");

    expect(html).toContain("<h1>Allow Test agent to access your account?</h1>");
    expect(html).toContain("Signed in as <strong>alice</strong>");
    expect(html).toContain("<li><code>mcp</code></li>");
    expect(html).toContain(`<code>${RESOURCE}</code>`);
  });

  it("escapes markup in client_name", async () => {
    const server = startServer();
    const clientName = "<script>alert(1)</script><img src=x onerror=alert(1)>";

    const { html } = await consentFor(server, publicClientBody({ client_name: clientName }));

    expect(html).toContain(`Allow ${escapeHtml(clientName)} to access`);
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
  });

  it("escapes markup in the user name", async () => {
    const server = startServer();

    const { html } = await consentFor(server, publicClientBody(), "<b>bob</b>");

    expect(html).toContain(`Signed in as <strong>${escapeHtml("<b>bob</b>")}</strong>`);
    expect(html).not.toContain("<b>");
  });

  it("escapes markup in request parameters", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const state = `"><script>alert(1)</script>`;
    const session = await signIn(server, authorizationQuery(client, challenge, { state }));

    const { html, form } = await openConsent(server, session);

    expect(html).not.toContain("<script");
    expect(form.fields).toContainEqual(["state", state]);
  });

  it("sends headers that forbid framing and caching", async () => {
    const server = startServer();

    const { response } = await consentFor(server, publicClientBody());

    expect(response.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("X-Frame-Options")).toBe("DENY");
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Referrer-Policy")).toBe("no-referrer");
  });

  it("sends the same headers on the sign-in page", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();

    const response = await server.send(`/authorize?${authorizationQuery(client, challenge)}`);

    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("X-Frame-Options")).toBe("DENY");
    expect(response.headers.get("Cache-Control")).toBe("no-store");
  });

  it("sends the same headers on an error page", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();

    const response = await server.send(`/authorize?${authorizationQuery(client, challenge, { client_id: "unknown-client" })}`);

    expect(response.status).toBe(400);
    expect(response.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("X-Frame-Options")).toBe("DENY");
  });

  it("warns about a loopback redirect", async () => {
    const server = startServer();

    const { html } = await consentFor(server, publicClientBody({ redirect_uris: ["http://127.0.0.1:3000/callback"] }));

    expect(html).toContain(
      '<p class="warning">The code goes to <code>127.0.0.1:3000</code>, a program on this computer.',
    );
  });

  it("warns about a private-use scheme redirect", async () => {
    const server = startServer();

    const { html } = await consentFor(
      server,
      publicClientBody({ redirect_uris: ["cursor://anysphere.cursor-mcp/oauth/callback"] }),
    );

    expect(html).toContain('<p class="warning">The code goes to the app that handles <code>cursor:</code> links on this device.');
    expect(html).toContain("Any installed app can claim such a scheme");
  });

  it("shows no warning for an https redirect", async () => {
    const server = startServer();

    const { html } = await consentFor(server, confidentialClientBody("client_secret_post"));

    expect(html).toContain("<p>After you approve, you return to <code>connector.test</code>.</p>");
    expect(html).not.toContain('class="warning"');
  });
});

describe("CSRF protection of the consent form", () => {
  it("rejects a form without csrf_token", async () => {
    const server = startServer();
    const { session, form } = await consentFor(server, publicClientBody());

    const response = await submitConsent(server, session, form, "approve", withCsrfToken(form, undefined));

    await expectErrorPage(response, { status: 403, error: "invalid_request", description: CSRF_FAILURE });
  });

  it("rejects a wrong csrf_token", async () => {
    const server = startServer();
    const { session, form } = await consentFor(server, publicClientBody());

    const response = await submitConsent(server, session, form, "approve", withCsrfToken(form, "wrong-token"));

    await expectErrorPage(response, { status: 403, error: "invalid_request", description: CSRF_FAILURE });
  });

  it("rejects the csrf_token of another session", async () => {
    const server = startServer();
    const alice = await consentFor(server, publicClientBody(), "alice");
    const bob = await signIn(server, alice.query, "bob");

    const response = await submitConsent(server, bob, alice.form, "approve", withCsrfToken(alice.form, csrfTokenOf(alice.form)));

    await expectErrorPage(response, { status: 403, error: "invalid_request", description: CSRF_FAILURE });
  });

  it("rejects a denial without csrf_token", async () => {
    const server = startServer();
    const { session, form } = await consentFor(server, publicClientBody());

    const response = await submitConsent(server, session, form, "deny", withCsrfToken(form, undefined));

    await expectErrorPage(response, { status: 403, error: "invalid_request", description: CSRF_FAILURE });
  });

  it("asks to sign in without a session", async () => {
    const server = startServer();
    const { form } = await consentFor(server, publicClientBody());

    const response = await submitConsent(server, undefined, form, "approve");

    expect(response.status).toBe(200);
    expect(response.headers.get("Location")).toBeNull();
    const [signInForm] = await readForms(await response.text());
    expect(signInForm?.action).toBe("/authorize/sign-in");
  });
});

describe("sign-in session", () => {
  it("sets the __Host- session cookie attributes", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const page = await server.send(`/authorize?${authorizationQuery(client, challenge)}`);
    const [form] = await readForms(await page.text());

    const response = await server.send(form!.action, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams([...form!.fields.filter(([name]) => name !== "username"), ["username", "alice"]]),
    });

    expect(response.status).toBe(200);
    const setCookie = sessionSetCookie(response);
    expect(setCookie).toMatch(/^__Host-session=[A-Za-z0-9_-]{43};/);
    const attributes = cookieAttributes(setCookie!);
    expect(attributes).toContain("httponly");
    expect(attributes).toContain("secure");
    expect(attributes).toContain("samesite=lax");
    expect(attributes).toContain("path=/");
    expect(attributes).toContain("max-age=28800");
    expect(attributes.some((attribute) => attribute.startsWith("domain="))).toBe(false);
  });

  it("shows consent right after sign-in", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const query = authorizationQuery(client, challenge);

    const session = await signIn(server, query);

    expect(session.consent.form.action).toBe("/authorize");
    const requestFields = session.consent.form.fields.filter(([name]) => name !== "csrf_token");
    expect(Object.fromEntries(requestFields)).toEqual(Object.fromEntries(query));
    expect(session.consent.response.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
  });

  it("sets no cookie on the sign-in page", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();

    const response = await server.send(`/authorize?${authorizationQuery(client, challenge)}`);

    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it("asks to sign in after session expiry", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const session = await signIn(server, authorizationQuery(client, challenge));

    server.advance(28_801);
    const response = await server.send(session.location, { headers: { Cookie: session.cookie } });

    expect(response.status).toBe(200);
    const [form] = await readForms(await response.text());
    expect(form?.action).toBe("/authorize/sign-in");
  });

  it("rejects an empty user name", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const { challenge } = await createPkce();
    const page = await server.send(`/authorize?${authorizationQuery(client, challenge)}`);
    const [form] = await readForms(await page.text());

    const response = await server.send(form!.action, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams([...form!.fields.filter(([name]) => name !== "username"), ["username", "  "]]),
    });

    expect(sessionSetCookie(response)).toBeUndefined();
    await expectErrorPage(response, { status: 400, error: "invalid_request", description: '"username" must be 1 to 100 characters.' });
  });
});
