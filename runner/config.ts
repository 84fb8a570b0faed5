/**
 * The runner's configuration: one zod schema fed by flags, environment and the config file
 * (`$TETHER_RUNNER_HOME/config.json`, mode 0600), in that order of precedence, then defaults.
 *
 * Every key in `CONFIG_KEYS` (config-keys.ts) has an environment variable and a flag of the same meaning; the
 * file uses the key itself. `loadConfig` never throws on bad input: it returns the problems.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { IMAGE_REFERENCE_PATTERN } from "../shared/environment.ts";
import { Label } from "../shared/task.ts";
import { parseHostRule } from "./egress/index.ts";
import { CREDENTIAL_HOST_PATTERN } from "./git/credentials.ts";
import { CONFIG_KEYS, type ConfigKey, type KeySpec } from "./config-keys.ts";
import type { Result } from "./ports.ts";
import { PriceTable } from "./proxy/prices.ts";

const bool = z.preprocess((v) => {
  if (typeof v !== "string") return v;
  const s = v.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(s)) return true;
  if (["0", "false", "no", "off", ""].includes(s)) return false;
  return v;
}, z.boolean());
const labels = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v),
  z.array(Label).max(16),
);
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }, schema);
const hosts = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.string().regex(CREDENTIAL_HOST_PATTERN, "host names or host:port, comma-separated")).max(64),
);
const egressRules = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.string().refine((r) => parseHostRule(r).ok, "host, *.domain or host:port, comma-separated")).max(256),
);
const images = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.string().regex(IMAGE_REFERENCE_PATTERN, "image references (name:tag, host:port/path:tag), comma-separated")).max(64),
);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const url = z.string().url().refine((u) => /^https?:\/\//.test(u), "an http(s) URL");

export const RunnerConfig = z.object({
  home: z.string().min(1),
  edgeURL: url.optional(),
  credential: z.string().min(1).optional(),
  runnerID: z.string().min(1).optional(),
  name: z.string().min(1).max(64).optional(),
  labels: labels.default([]),
  capacity: int(0, 256).default(2),
  poolSize: int(0, 256).default(1),
  anthropicAPIKey: z.string().min(1).optional(),
  anthropicBaseURL: url.default("https://api.anthropic.com"),
  modelServerTools: bool.default(false),
  workerImage: z.string().min(1).default("tether-worker:latest"),
  allowedImages: images.default([]),
  sandbox: z.enum(["docker", "process"]).default("docker"),
  memoryMB: int(32, 1_048_576).default(2048),
  cpus: z.coerce.number().positive().max(1024).default(2),
  pids: int(16, 1_000_000).default(512),
  gitToken: z.string().min(1).optional(),
  gitSSHKey: z.string().min(1).optional(),
  gitUser: z.string().min(1).default("x-access-token"),
  gitCredentialHosts: hosts.default([]),
  push: bool.default(false),
  cloneDepth: int(0, 1_000_000).default(1),
  allowLocalRepos: bool.default(false),
  workspaceCleanup: z.enum(["always", "on-success", "never"]).default("always"),
  metricsPort: int(1, 65535).optional(),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  logFormat: z.enum(["auto", "json", "pretty"]).default("auto"),
  batchMaxEvents: int(1, 500).default(100),
  batchMaxMs: int(0, 10_000).default(10),
  outboxMax: int(100, 10_000_000).default(100_000),
  stopGraceSeconds: int(0, 3600).default(10),
  idleMinutes: int(1, 7 * 24 * 60).default(60),
  budgetPauseMinutes: int(1, 30 * 24 * 60).default(24 * 60),
  setupTimeoutMinutes: int(1, 24 * 60).default(20),
  egressAllow: egressRules.default([]),
  egressAllowLoopbackForTests: bool.default(false),
  cacheMaxMB: int(0, 100_000_000).default(5120),
  /** Prices per million tokens by model ID, on top of the built-in table (runner/proxy/prices.ts). */
  modelPrices: json(PriceTable).optional(),
  taskMinuteMs: int(1, 60_000).default(60_000),
  diskMB: int(0, 16 * 1_048_576).default(10_240),
});
export type RunnerConfig = z.infer<typeof RunnerConfig>;

/** Keys `register` writes into the file. */
export type StoredConfig = Partial<Record<ConfigKey, unknown>>;

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "tether-runner");
}

export function configPath(home: string): string {
  return join(home, "config.json");
}

/**
 * Merges flags (already keyed by config key), environment and file, then validates.
 * Problems name the key together with its flag and variable so the fix is obvious.
 */
export function loadConfig(flags: StoredConfig, env: NodeJS.ProcessEnv = process.env): Result<RunnerConfig, string[]> {
  const home = String(flags.home ?? env.TETHER_RUNNER_HOME ?? defaultHome(env));
  const file = readConfigFile(home);
  if (!file.ok) return { ok: false, error: [file.error] };
  const merged: StoredConfig = { ...file.value };
  for (const [key, spec] of Object.entries(CONFIG_KEYS) as [ConfigKey, KeySpec][]) {
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") merged[key] = fromEnv;
    if (flags[key] !== undefined) merged[key] = flags[key];
  }
  merged.home = home;
  const parsed = RunnerConfig.safeParse(merged);
  if (parsed.success && parsed.data.egressAllowLoopbackForTests && !parsed.data.allowLocalRepos) {
    return { ok: false, error: ["egressAllowLoopbackForTests is for test runners only: it is refused unless allowLocalRepos (TETHER_ALLOW_LOCAL_REPOS) is on too"] };
  }
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    error: parsed.error.issues.map((issue) => {
      const key = issue.path[0] as ConfigKey | undefined;
      const spec = key ? CONFIG_KEYS[key] : undefined;
      const where = spec ? `${key} (${spec.flag}, ${spec.env}, or "${key}" in ${configPath(home)})` : "config";
      return `${where}: ${issue.message}`;
    }),
  };
}

export function readConfigFile(home: string): Result<StoredConfig> {
  const path = configPath(home);
  if (!existsSync(path)) return { ok: true, value: {} };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    return { ok: false, error: `${path} is not valid JSON: ${(err as Error).message}` };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, error: `${path} must hold a JSON object` };
  }
  const unknown = Object.keys(json).filter((k) => !(k in CONFIG_KEYS) || k === "home");
  if (unknown.length > 0) return { ok: false, error: `${path} has unknown keys: ${unknown.join(", ")}` };
  return { ok: true, value: json as StoredConfig };
}

/** Merges `values` into the config file, written atomically with mode 0600. */
export function writeConfigFile(home: string, values: StoredConfig): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const current = readConfigFile(home);
  const next = { ...(current.ok ? current.value : {}), ...values };
  delete next.home;
  const path = configPath(home);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The config with secrets masked, for `status` and logs. */
export function redactConfig(config: RunnerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const [key, spec] of Object.entries(CONFIG_KEYS) as [ConfigKey, KeySpec][]) {
    if (spec.secret && out[key] !== undefined) out[key] = "(set)";
  }
  return out;
}
