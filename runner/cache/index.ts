/** The setup cache on the runner host: a successful setup's result, restored by key. */
export { type CacheEntry, cacheKeyOf, lockfileDigests, SetupCache } from "./setup-cache.ts";
