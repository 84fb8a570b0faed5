/**
 * `tether-runner cache ls|prune`: the setup cache on this host (`$TETHER_RUNNER_HOME/cache`),
 * listed most recently used first, or pruned to its bound (or to `--max-mb`).
 */
import { join } from "node:path";
import { type CacheEntry, SetupCache } from "../cache/index.ts";
import type { RunnerConfig } from "../config.ts";

export function cacheOf(config: RunnerConfig): SetupCache {
  return new SetupCache(join(config.home, "cache"), config.cacheMaxMB * 1024 * 1024);
}

export function formatCacheEntries(entries: CacheEntry[]): string {
  if (entries.length === 0) return "the setup cache is empty";
  const total = entries.reduce((n, e) => n + e.bytes, 0);
  const lines = entries.map((e) => `${e.key.slice(0, 12)}  ${mb(e.bytes).padStart(9)}  used ${e.lastUsedAt}  saves ${Math.round(e.setupMs / 1000)} s  ${e.repo}`);
  return [...lines, `${entries.length} entries, ${mb(total)}`].join("\n");
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
