/**
 * The `tether-runner` command line: register, start, status, doctor, cache. Config comes from
 * flags, environment and `$TETHER_RUNNER_HOME/config.json` through one schema (config.ts),
 * parsed when a command runs, not at import time (runner/cli/run.ts runs it). Each command
 * imports its modules when it runs, so `--help` loads commander and the keys' flags and help
 * only (config-keys.ts: no zod, Docker client, SQLite or sockets).
 */
import { join } from "node:path";
import { Command, Option } from "commander";
import type { RunnerConfig, StoredConfig } from "../config.ts";
import { CONFIG_KEYS, type ConfigKey } from "../config-keys.ts";
import { RUNNER_VERSION } from "./version.ts";

function withConfigOptions(cmd: Command, keys: ConfigKey[] = Object.keys(CONFIG_KEYS) as ConfigKey[]): Command {
  for (const key of keys) {
    const spec = CONFIG_KEYS[key];
    cmd.addOption(new Option(`${spec.flag} <value>`, `${spec.help} [${spec.env}]`));
  }
  return cmd;
}

/** Commander's option values keyed by config key. */
function flagsOf(opts: Record<string, unknown>): StoredConfig {
  const flags: StoredConfig = {};
  for (const [key, spec] of Object.entries(CONFIG_KEYS) as [ConfigKey, (typeof CONFIG_KEYS)[ConfigKey]][]) {
    const value = opts[new Option(`${spec.flag} <value>`).attributeName()];
    if (value !== undefined) flags[key] = value;
  }
  return flags;
}

async function configOrExit(opts: Record<string, unknown>): Promise<RunnerConfig> {
  const { loadConfig } = await import("../config.ts");
  const loaded = loadConfig(flagsOf(opts));
  if (!loaded.ok) {
    process.stderr.write(`tether-runner: bad configuration\n${loaded.error.map((p) => `  - ${p}`).join("\n")}\n`);
    process.exit(1);
  }
  return loaded.value;
}

export function buildProgram(): Command {
  const program = new Command("tether-runner")
    .description("Runs Tether tasks in containers on this host, for an edge it dials out to.")
    .version(RUNNER_VERSION);

  withConfigOptions(
    program
      .command("register")
      .description("exchange a registration token for the runner credential and store it (config.json, mode 0600)")
      .requiredOption("--token <token>", "the registration token made in the app"),
    ["home", "edgeURL", "name", "labels", "capacity"],
  ).action(async (opts: Record<string, unknown>) => {
    const config = await configOrExit(opts);
    if (!config.edgeURL) {
      process.stderr.write("tether-runner: --edge URL is required\n");
      process.exit(1);
    }
    const { registerRunner } = await import("./register.ts");
    const r = await registerRunner({
      home: config.home,
      edgeURL: config.edgeURL,
      token: String(opts.token),
      name: config.name,
      labels: opts.labels !== undefined ? config.labels : undefined,
      capacity: opts.capacity !== undefined ? config.capacity : undefined,
    });
    if (!r.ok) {
      process.stderr.write(`tether-runner: ${r.error}\n`);
      process.exit(1);
    }
    process.stdout.write(`registered as runner ${r.value.runnerID}; credential stored in ${r.value.path}\nnext: tether-runner doctor, then tether-runner start\n`);
  });

  withConfigOptions(
    program
      .command("start")
      .description("run the daemon")
      .option("--drain", "on SIGTERM, wait for held tasks to finish before exiting"),
  ).action(async (opts: Record<string, unknown>) => {
    const config = await configOrExit(opts);
    const { startRunner } = await import("./start.ts");
    try {
      process.exitCode = await startRunner(config, { drain: opts.drain === true });
    } catch (err) {
      process.stderr.write(`tether-runner: start-up failed: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
    // Proxy sockets and Docker streams would keep the loop alive; the state is on disk.
    process.exit();
  });

  withConfigOptions(program.command("status").description("what this runner holds and its link state").option("--json", "print JSON")).action(
    async (opts: Record<string, unknown>) => {
      const config = await configOrExit(opts);
      const { formatStatus, readStatus } = await import("./status.ts");
      const status = readStatus(config);
      process.stdout.write(`${opts.json ? JSON.stringify(status, null, 2) : formatStatus(status)}\n`);
    },
  );

  withConfigOptions(program.command("doctor").description("check Docker, the worker image and the allowed images, the edge and the model key")).action(
    async (opts: Record<string, unknown>) => {
      const config = await configOrExit(opts);
      const [{ formatChecks, runDoctor }, { default: Docker }, { DockerSandbox }] = await Promise.all([import("./doctor.ts"), import("dockerode"), import("../sandbox/index.ts")]);
      const docker = new Docker();
      const sandbox = new DockerSandbox({ docker, image: config.workerImage, runnerID: `${config.runnerID ?? "runner"}-doctor`, agentDir: join(config.home, "agent") });
      const checks = await runDoctor(config, docker, undefined, (image) => sandbox.checkImage(image));
      process.stdout.write(`${formatChecks(checks)}\n`);
      process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
    },
  );
  const cache = program.command("cache").description("the setup cache on this host");
  withConfigOptions(cache.command("ls").description("list the cached setups, most recently used first").option("--json", "print JSON"), ["home", "cacheMaxMB"]).action(
    async (opts: Record<string, unknown>) => {
      const { cacheOf, formatCacheEntries } = await import("./cache.ts");
      const entries = await cacheOf(await configOrExit(opts)).list();
      process.stdout.write(`${opts.json ? JSON.stringify(entries, null, 2) : formatCacheEntries(entries)}\n`);
    },
  );
  withConfigOptions(
    cache.command("prune").description("remove the least recently used setups until the cache fits its bound").option("--max-mb <mb>", "the bound to prune to (default: cacheMaxMB)"),
    ["home", "cacheMaxMB"],
  ).action(async (opts: Record<string, unknown>) => {
    const config = await configOrExit(opts);
    const maxMB = opts.maxMb === undefined ? config.cacheMaxMB : Number(opts.maxMb);
    if (!Number.isFinite(maxMB) || maxMB < 0) {
      process.stderr.write("tether-runner: --max-mb is a number of MB, 0 or more\n");
      process.exit(1);
    }
    const { cacheOf } = await import("./cache.ts");
    const removed = await cacheOf(config).prune(maxMB * 1024 * 1024);
    process.stdout.write(`removed ${removed.length} ${removed.length === 1 ? "entry" : "entries"}\n`);
  });
  return program;
}
