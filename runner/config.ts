/**
 * The runner's configuration: one zod schema fed by flags, environment and the config file
 * (`$TETHER_RUNNER_HOME/config.json`, mode 0600), in that order of precedence, then defaults.
 *
 * Every key in `CONFIG_KEYS` has an environment variable and a flag of the same meaning; the
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
export type ConfigKey = keyof RunnerConfig;

export interface KeySpec {
  env: string;
  flag: string;
  help: string;
  secret?: boolean;
}

/** The environment variable and flag of every key. */
export const CONFIG_KEYS: Record<ConfigKey, KeySpec> = {
  home: { env: "TETHER_RUNNER_HOME", flag: "--home", help: "directory for config.json and the journal (default ~/.config/tether-runner)" },
  edgeURL: { env: "TETHER_EDGE_URL", flag: "--edge", help: "the edge's base URL, e.g. https://tether.example.com" },
  credential: { env: "TETHER_RUNNER_CREDENTIAL", flag: "--credential", help: "the runner credential (written by `register`)", secret: true },
  runnerID: { env: "TETHER_RUNNER_ID", flag: "--runner-id", help: "this runner's ID (written by `register`)" },
  name: { env: "TETHER_RUNNER_NAME", flag: "--name", help: "a name shown in the app" },
  labels: { env: "TETHER_LABELS", flag: "--labels", help: "comma-separated labels tasks can ask for" },
  capacity: { env: "TETHER_CAPACITY", flag: "--capacity", help: "tasks run at once (default 2)" },
  poolSize: {
    env: "TETHER_POOL_SIZE",
    flag: "--pool-size",
    help: "workers kept started ahead of their tasks (Docker only), within the capacity: pooled workers and running tasks together never exceed it; 0 turns the pool off (default 1)",
  },
  anthropicAPIKey: { env: "ANTHROPIC_API_KEY", flag: "--anthropic-api-key", help: "the model key; never enters a container", secret: true },
  anthropicBaseURL: { env: "ANTHROPIC_BASE_URL", flag: "--anthropic-base-url", help: "the model API (default https://api.anthropic.com)" },
  modelServerTools: {
    env: "TETHER_MODEL_SERVER_TOOLS",
    flag: "--model-server-tools",
    help: "let agents use the model provider's server-side tools (web fetch/search, code execution, MCP servers, URL sources), which reach the network from the provider (default false)",
  },
  workerImage: { env: "TETHER_WORKER_IMAGE", flag: "--worker-image", help: "the worker image (default tether-worker:latest)" },
  allowedImages: {
    env: "TETHER_ALLOWED_IMAGES",
    flag: "--allowed-images",
    help: "comma-separated images a saved environment may name besides the worker image; each must have node 20 or later, not readable by the agent's uid (mode 0711), and runs the runner's agent, mounted read-only (default none)",
  },
  sandbox: { env: "TETHER_SANDBOX", flag: "--sandbox", help: "docker (default) or process (isolates nothing)" },
  memoryMB: { env: "TETHER_MEMORY_MB", flag: "--memory-mb", help: "memory per container in MB (default 2048)" },
  cpus: { env: "TETHER_CPUS", flag: "--cpus", help: "CPUs per container (default 2)" },
  pids: { env: "TETHER_PIDS", flag: "--pids", help: "process limit per container (default 512)" },
  gitToken: { env: "TETHER_GIT_TOKEN", flag: "--git-token", help: "HTTPS token for clone and push", secret: true },
  gitSSHKey: { env: "TETHER_GIT_SSH_KEY", flag: "--git-ssh-key", help: "path of an SSH private key for clone and push" },
  gitUser: { env: "TETHER_GIT_USER", flag: "--git-user", help: "user name sent with the HTTPS token (default x-access-token)" },
  gitCredentialHosts: {
    env: "TETHER_GIT_CREDENTIAL_HOSTS",
    flag: "--git-credential-hosts",
    help: "comma-separated hosts (host or host:port) the HTTPS token is given to, over https only (default none: the token goes to no host)",
  },
  push: { env: "TETHER_PUSH", flag: "--push", help: "push each task's branch when it finishes (true/false, default false)" },
  cloneDepth: { env: "TETHER_CLONE_DEPTH", flag: "--clone-depth", help: "clone depth, 0 for full history (default 1)" },
  allowLocalRepos: {
    env: "TETHER_ALLOW_LOCAL_REPOS",
    flag: "--allow-local-repos",
    help: "clone tasks' repositories from this host's own paths (/… or file://): anyone who can create tasks can then read any repository on the host (default false)",
  },
  workspaceCleanup: { env: "TETHER_WORKSPACE_CLEANUP", flag: "--workspace-cleanup", help: "always (default), on-success or never" },
  metricsPort: { env: "TETHER_METRICS_PORT", flag: "--metrics-port", help: "serve Prometheus /metrics on 127.0.0.1:PORT" },
  logFormat: { env: "TETHER_LOG_FORMAT", flag: "--log-format", help: "json, pretty, or auto (default: pretty on a terminal, else json)" },
  logLevel: { env: "TETHER_LOG_LEVEL", flag: "--log-level", help: "trace, debug, info (default), warn, error, silent" },
  batchMaxEvents: { env: "TETHER_BATCH_MAX_EVENTS", flag: "--batch-max-events", help: "events per frame to the edge (default 100)" },
  batchMaxMs: { env: "TETHER_BATCH_MAX_MS", flag: "--batch-max-ms", help: "longest wait before a frame is sent, ms (default 10)" },
  outboxMax: { env: "TETHER_OUTBOX_MAX", flag: "--outbox-max", help: "unacked events kept on disk before output is paused (default 100000)" },
  stopGraceSeconds: { env: "TETHER_STOP_GRACE_SECONDS", flag: "--stop-grace-seconds", help: "grace before a cancelled worker is killed (default 10)" },
  idleMinutes: { env: "TETHER_IDLE_MINUTES", flag: "--idle-minutes", help: "a task waiting this long for a follow-up finishes as succeeded (default 60)" },
  budgetPauseMinutes: {
    env: "TETHER_BUDGET_PAUSE_MINUTES",
    flag: "--budget-pause-minutes",
    help: "a task paused at a reached budget waits this long for its owner to raise it, then fails (default 1440, a day)",
  },
  setupTimeoutMinutes: { env: "TETHER_SETUP_TIMEOUT_MINUTES", flag: "--setup-timeout-minutes", help: "time limit of a task's setup phase (default 20)" },
  egressAllow: {
    env: "TETHER_EGRESS_ALLOW",
    flag: "--egress-allow",
    help: "comma-separated hosts (host, *.domain, host:port) every setup phase may reach besides this host's own package registries",
  },
  egressAllowLoopbackForTests: {
    env: "TETHER_EGRESS_ALLOW_LOOPBACK_FOR_TESTS",
    flag: "--egress-allow-loopback-for-tests",
    help: "let containers reach this host's loopback through the egress proxy, for tests with a stand-in registry on 127.0.0.1; refused unless allowLocalRepos is on too (default false)",
  },
  cacheMaxMB: { env: "TETHER_CACHE_MAX_MB", flag: "--cache-max-mb", help: "size bound of the setup cache in MB, 0 for no cache (default 5120)" },
  modelPrices: {
    env: "TETHER_MODEL_PRICES",
    flag: "--model-prices",
    help: 'JSON map of model ID to USD per million tokens, on top of the built-in prices, e.g. {"my-model":{"input":2,"output":10,"cacheWrite":2.5,"cacheRead":0.2}}',
  },
  diskMB: {
    env: "TETHER_DISK_MB",
    flag: "--disk-mb",
    help: "each task's disk (workspace, its git, state) in MB: a loop-mounted ext4 image, which needs a runner running as root; 0 for no bound (default 10240)",
  },
  taskMinuteMs: {
    env: "TETHER_TASK_MINUTE_MS",
    flag: "--task-minute-ms",
    help: "for tests: the length in ms of a minute of a task's wall-clock limit (timeoutMinutes) and of budgetPauseMinutes (default 60000)",
  },
};

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
