import { Hono } from "hono";
import { type Client, deleteClient, findClient, insertClient, updateClient } from "../clients.js";
import { type AppContext, type AppEnv, logEvent } from "../context.js";
import { matchesHash, randomToken, sha256 } from "../crypto.js";
import { OAuthError } from "../errors.js";
import { NO_STORE, readJsonObject } from "../http.js";
import { challenge } from "../www-authenticate.js";
import { type ClientMetadata, parseClientMetadata } from "./metadata.js";

/** Credentials returned once, at registration or when an update issues a new secret. */
interface IssuedSecrets {
  client_secret?: string;
  registration_access_token?: string;
}

function clientInformation(c: AppContext, client: Client, secrets: IssuedSecrets) {
  const { config } = c.var;
  const confidential = client.metadata.token_endpoint_auth_method !== "none";
  return {
    client_id: client.client_id,
    client_id_issued_at: client.client_id_issued_at,
    ...(secrets.client_secret ? { client_secret: secrets.client_secret } : {}),
    ...(confidential ? { client_secret_expires_at: client.client_secret_expires_at } : {}),
    ...(secrets.registration_access_token ? { registration_access_token: secrets.registration_access_token } : {}),
    registration_client_uri: `${config.ISSUER}/register/${client.client_id}`,
    ...client.metadata,
  };
}

async function issueSecret(c: AppContext): Promise<{ secret: string; hash: string; expiresAt: number }> {
  const secret = randomToken();
  const ttl = c.var.config.CLIENT_SECRET_TTL;
  return { secret, hash: await sha256(secret), expiresAt: ttl === 0 ? 0 : c.var.now() + ttl };
}

/** RFC 7591 §3.1: registers a client from its metadata and returns its credentials once. */
async function register(c: AppContext) {
  const metadata = parseClientMetadata(c.var.config, await readJsonObject(c));

  const now = c.var.now();
  const registrationAccessToken = randomToken();
  const client: Client = {
    client_id: randomToken(16),
    client_id_issued_at: now,
    client_secret_expires_at: 0,
    registration_access_token_hash: await sha256(registrationAccessToken),
    metadata,
  };
  const secrets: IssuedSecrets = { registration_access_token: registrationAccessToken };
  if (metadata.token_endpoint_auth_method !== "none") {
    const issued = await issueSecret(c);
    client.client_secret_hash = issued.hash;
    client.client_secret_expires_at = issued.expiresAt;
    secrets.client_secret = issued.secret;
  }

  await insertClient(c.env.DB, client, now);

  return c.json(clientInformation(c, client, secrets), 201, NO_STORE);
}

/**
 * RFC 7592 §3: authenticates a request to the client configuration endpoint with the client's
 * registration access token. Every failure is the same 401 so that client ids cannot be probed.
 */
async function authenticate(c: AppContext): Promise<Client> {
  const authorization = c.req.header("Authorization");
  const token = authorization?.match(/^Bearer +([\x21-\x7e]+)$/i)?.[1];
  if (!token) {
    throw new OAuthError("invalid_token", "A registration access token is required as a Bearer token.", {
      headers: { "WWW-Authenticate": challenge("Bearer", {}) },
    });
  }

  const client = await findClient(c.env.DB, c.req.param("client_id")!);
  if (!client || !(await matchesHash(token, client.registration_access_token_hash))) {
    throw new OAuthError("invalid_token", "The registration access token is invalid for this client.", {
      headers: {
        "WWW-Authenticate": challenge("Bearer", {
          error: "invalid_token",
          error_description: "The registration access token is invalid for this client.",
        }),
      },
      cause: client ? "registration access token mismatch" : "unknown client_id",
    });
  }
  return client;
}

/**
 * Rotates the registration access token. RFC 7592 §3 requires it in every client information
 * response, and only its hash is stored, so each read and update issues a new one (§2.1 and §2.2
 * allow this). The client must use the new one.
 */
async function rotateRegistrationAccessToken(client: Client): Promise<string> {
  const token = randomToken();
  client.registration_access_token_hash = await sha256(token);
  return token;
}

async function read(c: AppContext) {
  const client = await authenticate(c);
  const token = await rotateRegistrationAccessToken(client);
  await updateClient(c.env.DB, client, c.var.now());
  return c.json(clientInformation(c, client, { registration_access_token: token }), 200, NO_STORE);
}

/** RFC 7592 §2.2: replaces the client's metadata; fields left out return to their defaults. */
async function update(c: AppContext) {
  const client = await authenticate(c);
  const body = await readJsonObject(c);

  if (body.client_id !== client.client_id) {
    throw new OAuthError("invalid_request", '"client_id" must be present and equal the client\'s "client_id".');
  }
  if (body.client_secret !== undefined) {
    const matches =
      typeof body.client_secret === "string" &&
      client.client_secret_hash !== undefined &&
      (await matchesHash(body.client_secret, client.client_secret_hash));
    if (!matches) throw new OAuthError("invalid_request", '"client_secret" does not match the client\'s secret.');
  }

  const metadata: ClientMetadata = parseClientMetadata(c.var.config, body);
  const updated: Client = { ...client, metadata };
  const secrets: IssuedSecrets = { registration_access_token: await rotateRegistrationAccessToken(updated) };
  if (metadata.token_endpoint_auth_method === "none") {
    delete updated.client_secret_hash;
    updated.client_secret_expires_at = 0;
  } else if (client.client_secret_hash === undefined) {
    // A public client that becomes confidential needs a secret for the first time.
    const issued = await issueSecret(c);
    updated.client_secret_hash = issued.hash;
    updated.client_secret_expires_at = issued.expiresAt;
    secrets.client_secret = issued.secret;
  }

  await updateClient(c.env.DB, updated, c.var.now());

  return c.json(clientInformation(c, updated, secrets), 200, NO_STORE);
}

/** RFC 7592 §2.3: deletes the client, its grants and its tokens. */
async function remove(c: AppContext) {
  const client = await authenticate(c);
  await deleteClient(c.env.DB, client.client_id);
  logEvent(c, "client_deleted", { client_id: client.client_id });
  return c.body(null, 204, NO_STORE);
}

/** Routes of dynamic client registration (RFC 7591) and client management (RFC 7592). */
export function registrationRoutes(): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .post("/register", register)
    .get("/register/:client_id", read)
    .put("/register/:client_id", update)
    .delete("/register/:client_id", remove);
}
