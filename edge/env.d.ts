/** Secrets are not in wrangler.toml, so `wrangler types` cannot see them. */
declare namespace Cloudflare {
  interface Env {
    /** HS256 secret for user tokens (`.dev.vars` or `wrangler secret put AUTH_SECRET`). */
    AUTH_SECRET?: string;
  }
}
