/**
 * The flag, environment variable and help line of every runner config key, apart from the
 * schema (config.ts) so that `tether-runner --help` builds its options without loading zod.
 */
import type { RunnerConfig } from "./config.ts";

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
