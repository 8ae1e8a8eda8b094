import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { type Config, ConfigError } from "./config.js";
import type { Env } from "./env.js";

export const SIGNING_ALGORITHM = "ES256";

/** The key that signs new tokens, and the public keys of every configured key for the JWKS. */
export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  jwks: { keys: JWK[] };
}

const loaded = new Map<string, Promise<SigningKeys>>();

function publicJwk(jwk: JWK, kid: string): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: SIGNING_ALGORITHM, use: "sig" };
}

/** Imports private JWKs; the first is the newest and signs, and all of them are published. */
async function importKeys(privateJwks: JWK[]): Promise<SigningKeys> {
  const keys: JWK[] = [];
  for (const [index, jwk] of privateJwks.entries()) {
    if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.d !== "string") {
      throw new ConfigError(`Invalid Worker configuration: "SIGNING_KEYS[${index}]" must be a private EC P-256 JWK for ES256`);
    }
    // Configuration checked the shape; importing here also rejects a point that is not on the curve.
    // RFC 7638 thumbprint as kid, so the same key always has the same id.
    keys.push(publicJwk(jwk, await calculateJwkThumbprint(jwk)));
  }

  const privateKey = (await importJWK({ ...privateJwks[0]!, alg: SIGNING_ALGORITHM }, SIGNING_ALGORITHM)) as CryptoKey;
  return { kid: keys[0]!.kid!, privateKey, jwks: { keys } };
}

/**
 * Loads the development key from D1, generating and storing it on first use. Only loopback
 * issuers get here: configuration rejects a public issuer without `SIGNING_KEYS`.
 */
async function developmentKeys(db: D1Database, now: number): Promise<SigningKeys> {
  const select = db.prepare("SELECT private_jwk FROM development_keys WHERE id = 'default'");
  let row = await select.first<{ private_jwk: string }>();
  if (!row) {
    const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
    const jwk = await exportJWK(privateKey);
    // Two isolates may race to create the key; INSERT OR IGNORE keeps the first and both read it back.
    await db
      .prepare("INSERT OR IGNORE INTO development_keys (id, private_jwk, created_at) VALUES ('default', ?, ?)")
      .bind(JSON.stringify(jwk), now)
      .run();
    row = await select.first<{ private_jwk: string }>();
  }
  return importKeys([JSON.parse(row!.private_jwk) as JWK]);
}

/** Returns the signing keys, importing them once per isolate. */
export function loadSigningKeys(env: Env, config: Config, now: number): Promise<SigningKeys> {
  const cacheKey = config.SIGNING_KEYS ?? "development";
  let keys = loaded.get(cacheKey);
  if (!keys) {
    keys = config.SIGNING_KEYS ? importKeys(JSON.parse(config.SIGNING_KEYS) as JWK[]) : developmentKeys(env.DB, now);
    // A failed load is not cached, so a transient D1 error does not stick.
    keys.catch(() => loaded.delete(cacheKey));
    loaded.set(cacheKey, keys);
  }
  return keys;
}
