/**
 * The part of oidc-provider's API the test identity provider uses (the package ships no types).
 * Only tests import it; the configuration stays loosely typed because the package validates it.
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Record<string, unknown> | Promise<Record<string, unknown>>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    /** Adds Koa middleware around the provider's own (it runs for every request). */
    use(
      middleware: (ctx: { path: string; status: number; body: unknown }, next: () => Promise<void>) => Promise<void>,
    ): this;
  }
}
