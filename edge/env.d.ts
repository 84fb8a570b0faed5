/** Secrets and optional settings are not in wrangler.toml, so `wrangler types` cannot see them. */
declare namespace Cloudflare {
  interface Env {
    /** HS256 secret for user tokens (`.dev.vars` or `wrangler secret put AUTH_SECRET`). */
    AUTH_SECRET?: string;
    /**
     * Key of the account MACs in registration tokens and runner credentials; AUTH_SECRET
     * when unset. An edge that takes only JWKS user tokens needs it to register runners.
     */
    CREDENTIAL_SECRET?: string;
    /** Web Push (edge/push/vapid.ts): the VAPID public key, private key (base64url) and contact (`mailto:`). */
    VAPID_PUBLIC_KEY?: string;
    VAPID_PRIVATE_KEY?: string;
    VAPID_SUBJECT?: string;
    /** Seconds a task waits for its silent runner before it ends `lost` (default `RUNNER_GRACE_SECONDS`, 30 minutes). */
    RUNNER_GRACE_SECONDS?: string;
  }
}
