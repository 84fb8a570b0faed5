/** Secrets are not in wrangler.toml, so `wrangler types` cannot see them. */
declare namespace Cloudflare {
  interface Env {
    /** HS256 secret for user tokens (`.dev.vars` or `wrangler secret put AUTH_SECRET`). */
    AUTH_SECRET?: string;
    /** Web Push (edge/push/vapid.ts): the VAPID public key, private key (base64url) and contact (`mailto:`). */
    VAPID_PUBLIC_KEY?: string;
    VAPID_PRIVATE_KEY?: string;
    VAPID_SUBJECT?: string;
  }
}
