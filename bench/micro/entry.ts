// The hot paths under benchmark, bundled into one module by bench/vitest.bench.config.ts as
// wrangler bundles the Worker, so that calls between modules cost what they cost in production.
export { Hono } from "hono";
export { exportJWK, generateKeyPair, jwtVerify } from "jose";
export { loadConfig } from "../../src/config.js";
export { loadSigningKeys } from "../../src/keys.js";
export { parseClientMetadata } from "../../src/registration/metadata.js";
export { bearerAuth } from "../../src/resource/bearer.js";
export { keySetOf, signAccessToken } from "../../src/token/access-token.js";
export { createApp } from "../../src/app.js";
