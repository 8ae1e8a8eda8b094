import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";

it("serves metadata", async () => {
  const response = await SELF.fetch("http://127.0.0.1:8787/.well-known/oauth-authorization-server");
  expect(response.status).toBe(200);
  console.log(await response.text());
  const r = await SELF.fetch("http://127.0.0.1:8787/register", { method: "POST", headers: { "Content-Type": "application/json", Origin: "http://x.test" }, body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:3000/cb"], token_endpoint_auth_method: "none" }) });
  console.log(r.status, [...r.headers], await r.text());
  const r2 = await SELF.fetch("http://127.0.0.1:8787/register", { method: "POST", headers: { "Content-Type": "application/json", Origin: "http://x.test" }, body: JSON.stringify({ redirect_uris: ["javascript:alert(1)"] }) });
  console.log(r2.status, [...r2.headers], await r2.text());
  const r3 = await SELF.fetch("http://127.0.0.1:8787/register", { method: "GET", headers: { Origin: "http://x.test" } });
  console.log(r3.status, [...r3.headers], await r3.text());
  const r4 = await SELF.fetch("http://127.0.0.1:8787/.well-known/jwks.json", { headers: { Origin: "http://x.test" } });
  console.log(r4.status, [...r4.headers], await r4.text());
});
