// The parts of `oidc-provider` (v9) that the e2e tests use. The package ships no types, and
// @types/oidc-provider is not a dependency of this project.
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  /** Claims of an account, as `findAccount` returns them, with the required `sub`. */
  export interface AccountClaims {
    sub: string;
    [claim: string]: unknown;
  }

  export interface Account {
    accountId: string;
    /** Returns the claims for `use` ("id_token" or "userinfo") and the granted `scope`. */
    claims(use: string, scope: string): AccountClaims | Promise<AccountClaims>;
  }

  /** Provider configuration. The tests pass only documented options, so they are not typed one by one. */
  export interface Configuration {
    findAccount?(context: unknown, sub: string): Account | undefined | Promise<Account | undefined>;
    [option: string]: unknown;
  }

  /** An OpenID Provider. It is a Koa application, so `callback()` returns a Node request listener. */
  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export default Provider;
}
