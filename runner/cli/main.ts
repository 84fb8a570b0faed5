/**
 * The `tether-runner` command line: register, start, status, doctor. Config comes from
 * flags, environment and `$TETHER_RUNNER_HOME/config.json` through one schema (config.ts),
 * parsed when a command runs, not at import time. runner/bin/tether-runner.js runs it.
 */
import Docker from "dockerode";
import { Command, Option } from "commander";
import { CONFIG_KEYS, type ConfigKey, loadConfig, type RunnerConfig, type StoredConfig } from "../config.ts";
import { formatChecks, runDoctor } from "./doctor.ts";
import { registerRunner } from "./register.ts";
import { RUNNER_VERSION, startRunner } from "./start.ts";
import { formatStatus, readStatus } from "./status.ts";

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

function configOrExit(opts: Record<string, unknown>): RunnerConfig {
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
    const config = configOrExit(opts);
    if (!config.edgeURL) {
      process.stderr.write("tether-runner: --edge URL is required\n");
      process.exit(1);
    }
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
    const config = configOrExit(opts);
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
    (opts: Record<string, unknown>) => {
      const status = readStatus(configOrExit(opts));
      process.stdout.write(`${opts.json ? JSON.stringify(status, null, 2) : formatStatus(status)}\n`);
    },
  );

  withConfigOptions(program.command("doctor").description("check Docker, the worker image, the edge and the model key")).action(
    async (opts: Record<string, unknown>) => {
      const checks = await runDoctor(configOrExit(opts), new Docker());
      process.stdout.write(`${formatChecks(checks)}\n`);
      process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
    },
  );
  return program;
}
