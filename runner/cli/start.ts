/**
 * `tether-runner start`: builds the real parts from the config (journal, model proxy,
 * sandbox, git, artifact upload, metrics), starts the daemon and wires the signals.
 *
 * SIGTERM / SIGINT: stop taking tasks, flush the journal, close the sockets and leave the
 * workers running for the next start; with `--drain` wait for held tasks to finish first
 * (a second signal stops at once). A credential the edge refuses ends the process with
 * exit code 2 and says so.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import type { RunnerConfig } from "../config.ts";
import { Daemon, type RunnerState } from "../daemon.ts";
import { EgressProxy, egressDefaultsOf, readHostRegistries } from "../egress/index.ts";
import type { EnvironmentDeps } from "../task/index.ts";
import { cacheOf } from "./cache.ts";
import { cloneRepo, commitAll, listUntracked, makeDiff, pushBranch } from "../git/index.ts";
import { EdgeArtifacts } from "../link/index.ts";
import type { GitPort, Sandbox } from "../ports.ts";
import { ModelProxy } from "../proxy/index.ts";
import { withOverrides } from "../proxy/prices.ts";
import { DockerSandbox, ProcessSandbox } from "../sandbox/index.ts";
import { EgressQuestions, Journal, canMountTaskDisks } from "../task/index.ts";
import { RUNNER_VERSION } from "./version.ts";

export const EXIT_CREDENTIAL_REFUSED = 2;

/**
 * JSON lines for machines (journald, files); readable lines when a person watches a terminal.
 * pino-pretty is loaded only then: a runner under a service manager never holds it.
 */
export async function makeLogger(config: RunnerConfig): Promise<Logger> {
  const options = { level: config.logLevel, base: { pid: process.pid, runner: config.runnerID } };
  const pretty = config.logFormat === "pretty" || (config.logFormat === "auto" && process.stdout.isTTY === true);
  if (!pretty) return pino(options);
  const { default: pinoPretty } = await import("pino-pretty");
  return pino(options, pinoPretty({ colorize: process.stdout.isTTY === true, ignore: "pid,hostname", sync: true }));
}

const hostGit: GitPort = {
  clone: (opts) => cloneRepo(opts),
  commitAll,
  makeDiff,
  push: pushBranch,
  listUntracked,
};

function makeSandbox(config: RunnerConfig, runnerID: string, logger: Logger): Sandbox {
  if (config.sandbox === "docker") {
    return new DockerSandbox({ image: config.workerImage, runnerID, agentDir: join(config.home, "agent"), logger: logger.child({ component: "docker" }) });
  }
  return new ProcessSandbox({ runnerID, logger: logger.child({ component: "process" }) });
}

/**
 * The egress proxy, what every setup phase may reach (this host's package registries, read
 * now from its npm, pip and apt configuration, and the operator's `egressAllow`), the tools'
 * environment in the containers, and the setup cache.
 */
async function makeEnvironments(config: RunnerConfig, logger: Logger): Promise<EnvironmentDeps> {
  const { setupRules, toolEnv } = egressDefaultsOf(await readHostRegistries(), config.egressAllow, config.egressAllowLoopbackForTests);
  if (config.egressAllowLoopbackForTests) logger.warn("egressAllowLoopbackForTests: containers may reach this host's loopback through the egress proxy (a test runner only)");
  logger.info({ setupRules: setupRules.length }, "egress: setup phases may reach this host's package registries and egressAllow");
  return {
    egress: new EgressProxy({ allowLoopback: config.egressAllowLoopbackForTests, logger: logger.child({ component: "egress" }) }),
    egressDir: join(config.home, "egress"),
    setupRules,
    toolEnv,
    ...(config.cacheMaxMB > 0 ? { cache: cacheOf(config) } : {}),
    setupTimeoutMs: config.setupTimeoutMinutes * 60_000,
    questions: new EgressQuestions(),
  };
}

/** Runs the daemon until a signal or a fatal refusal; resolves with the exit code. */
export async function startRunner(config: RunnerConfig, opts: { drain: boolean }): Promise<number> {
  if (!config.edgeURL || !config.credential) {
    process.stderr.write("tether-runner: not registered. Run: tether-runner register --edge https://YOUR-EDGE --token TOKEN\n");
    return 1;
  }
  const other = runningDaemon(config.home);
  if (other) {
    process.stderr.write(`tether-runner: another runner (pid ${other}) is using ${config.home}; give this one its own TETHER_RUNNER_HOME\n`);
    return 1;
  }
  const logger = await makeLogger(config);
  const runnerID = config.runnerID ?? `r-${createHash("sha256").update(config.credential).digest("hex").slice(0, 12)}`;
  if (!config.anthropicAPIKey) {
    logger.error("the runner has no model key (ANTHROPIC_API_KEY): every task it takes fails at once; `tether-runner doctor` says how to fix it");
  }
  if (config.gitToken && config.gitCredentialHosts.length === 0) {
    logger.warn("the git token is given to no host: set gitCredentialHosts (TETHER_GIT_CREDENTIAL_HOSTS) to the hosts it belongs to");
  } else if (config.gitToken) {
    logger.info({ hosts: config.gitCredentialHosts }, "the git token is given to these hosts, over https only");
  }
  const disks = config.diskMB > 0 ? await canMountTaskDisks(config.home) : ({ ok: true, value: undefined } as const);
  const diskMB = disks.ok ? config.diskMB : 0;
  if (!disks.ok) logger.warn({ diskMB: config.diskMB, reason: disks.error }, "tasks' disks are not bounded (set diskMB to 0 to silence this)");
  const journal = new Journal(join(config.home, "journal.db"), config.outboxMax);
  const prices = withOverrides(config.modelPrices);
  const proxySocketDir = join(config.home, "proxy");
  const proxy = new ModelProxy({
    upstreamURL: config.anthropicBaseURL,
    apiKey: config.anthropicAPIKey ?? "",
    socketDir: proxySocketDir,
    prices,
    serverTools: config.modelServerTools,
    logger,
  });
  await proxy.start();
  const sandbox = makeSandbox(config, runnerID, logger);
  const environments = await makeEnvironments(config, logger);

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const daemon = new Daemon({
    home: config.home,
    journal,
    sandbox,
    proxy,
    git: hostGit,
    artifacts: new EdgeArtifacts(config.edgeURL, config.credential),
    logger,
    hasModelKey: Boolean(config.anthropicAPIKey),
    resources: { memoryMB: config.memoryMB, cpus: config.cpus, pids: config.pids },
    environments,
    images: { workerImage: config.workerImage, allowed: config.allowedImages },
    credentials: {
      ...(config.gitToken ? { httpsToken: config.gitToken, httpsUser: config.gitUser, hosts: config.gitCredentialHosts } : {}),
      ...(config.gitSSHKey ? { sshKeyPath: config.gitSSHKey } : {}),
    },
    push: config.push,
    cloneDepth: config.cloneDepth,
    allowLocalRepos: config.allowLocalRepos,
    prices,
    stopGraceMs: config.stopGraceSeconds * 1000,
    idleMs: config.idleMinutes * 60_000,
    budgetPauseMs: config.budgetPauseMinutes * config.taskMinuteMs,
    minuteMs: config.taskMinuteMs,
    diskMB,
    workspaceCleanup: config.workspaceCleanup,
    edgeURL: config.edgeURL,
    credential: config.credential,
    version: RUNNER_VERSION,
    labels: config.labels,
    capacity: config.capacity,
    poolSize: config.sandbox === "docker" ? config.poolSize : 0,
    proxySocketDir,
    batchMaxEvents: config.batchMaxEvents,
    batchMaxMs: config.batchMaxMs,
    onFatal: (reason) => {
      process.stderr.write(`tether-runner: ${reason}. Register this runner again (tether-runner register --edge URL --token TOKEN).\n`);
      void daemon.stop().finally(() => resolveExit(EXIT_CREDENTIAL_REFUSED));
    },
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: stopping now, workers keep running");
      void daemon.stop().finally(() => resolveExit(0));
      return;
    }
    stopping = true;
    logger.info({ signal, drain: opts.drain }, opts.drain ? "draining: no new tasks, waiting for held ones" : "stopping: workers keep running for the next start");
    void (opts.drain ? daemon.drain() : daemon.stop()).finally(() => resolveExit(0));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  if (config.metricsPort) {
    const { port } = await daemon.metrics.serve(config.metricsPort);
    logger.info({ url: `http://127.0.0.1:${port}/metrics` }, "metrics served");
  }
  await daemon.start();
  logger.info({ edge: config.edgeURL, capacity: config.capacity, sandbox: sandbox.kind, version: RUNNER_VERSION }, "runner started");
  const code = await exited;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return code;
}

/** The pid of a live daemon using this home, if any. */
function runningDaemon(home: string): number | undefined {
  const path = join(home, "state.json");
  if (!existsSync(path)) return undefined;
  try {
    const state = JSON.parse(readFileSync(path, "utf8")) as RunnerState;
    if (state.link === "stopped" || state.pid === process.pid) return undefined;
    process.kill(state.pid, 0);
    return state.pid;
  } catch {
    return undefined;
  }
}
