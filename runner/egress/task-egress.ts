/**
 * A task's egress policy, the one place that decides what a task's containers may reach:
 *
 * - the runner-wide defaults (`egressDefaultsOf`): every setup phase reaches the package
 *   registries the host is configured to use and the operator's `egressAllow`; every
 *   container's tools get the proxy variables and those same registries;
 * - where its proxy socket goes on the host (one directory per task, named by a hash of the
 *   task ID) and the tools' environment every container gets (`egressOf`);
 * - what each phase reaches (`openTaskEgress`): the setup phase the runner's defaults (the
 *   host's package registries, the operator's `egressAllow`) and the environment's setup
 *   hosts, the agent phase the environment's agent hosts; both what the user has allowed;
 *   an `ask` task's agent phase asks its owner (`ask`) before it refuses an attempt;
 * - the user's allow (`allowTaskEgress`): the rule applies at once for the rest of the task,
 *   and comes back with the rules the task keeps, so a proxy opened again after a restart has
 *   it too; a rule the proxy does not take is said in a `warn` log line.
 *
 * The task code (runner/task/) calls these with what its record holds; it keeps no policy.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { NetworkPolicy } from "../../shared/environment.ts";
import type { EventData, RunnerEventBody } from "../../shared/events.ts";
import type { EgressPhase, EgressPort, EgressRegistration, HostRule, SandboxSpec } from "../ports.ts";
import { type HostRegistries, registryEnv, rulesOfRegistries } from "./host-registries.ts";
import { parseHostRule } from "./host-rule.ts";
import { proxyEnv } from "./proxy-env.ts";

/** What the runner gives every task's egress. */
export interface EgressDeps {
  egress: EgressPort;
  /** Where the tasks' egress sockets go, one directory each. */
  egressDir: string;
  /** What every setup phase may reach: the host's package registries and the operator's `egressAllow`. */
  setupRules: HostRule[];
  /** The tools' environment in every container: the proxy variables and the host's registries. */
  toolEnv: Record<string, string>;
}

/** A task's own part of the policy, as its record holds it. */
export interface TaskEgressPolicy {
  /** The task's environment's network policy, if it has one. */
  network?: NetworkPolicy;
  /** The rules the user allowed for the rest of the task. */
  allowed: readonly string[];
}

/**
 * The runner-wide defaults from the host's registries and the operator's rules (validated by
 * the config). `loopbackThroughProxy`: a test runner's stand-in registry on 127.0.0.1.
 */
export function egressDefaultsOf(registries: HostRegistries, operatorRules: readonly string[], loopbackThroughProxy: boolean): Pick<EgressDeps, "setupRules" | "toolEnv"> {
  return {
    setupRules: [...rulesOfRegistries(registries), ...rulesOf(operatorRules)],
    toolEnv: { ...proxyEnv({ loopbackThroughProxy }), ...registryEnv(registries) },
  };
}

/** The egress a task's containers get: its socket on the host and the tools' environment. */
export function egressOf(deps: EgressDeps, taskID: string): NonNullable<SandboxSpec["egress"]> {
  const dir = createHash("sha256").update(taskID).digest("hex").slice(0, 16);
  return { socketPath: join(deps.egressDir, dir, "egress.sock"), env: deps.toolEnv };
}

/**
 * Opens (or opens again) the task's egress proxy in `phase`; each attempt is reported through
 * `onEvent`; `ask`, for a task that asks its owner, answers what no rule allows.
 */
export async function openTaskEgress(
  deps: EgressDeps,
  taskID: string,
  policy: TaskEgressPolicy,
  phase: EgressPhase,
  onEvent: (data: EventData<"egress">) => void,
  ask?: EgressRegistration["ask"],
): Promise<void> {
  await deps.egress.register(taskID, {
    socketPath: egressOf(deps, taskID).socketPath,
    phase,
    setupRules: [...deps.setupRules, ...rulesOf(policy.network?.setup ?? [])],
    agentRules: rulesOf(policy.network?.agent ?? []),
    allowed: rulesOf(policy.allowed),
    onEvent,
    ...(ask ? { ask } : {}),
  });
}

/**
 * The user's allow of `rule` for the rest of the task: `allowed` is the task's rules to keep
 * when the proxy took it (absent otherwise), `event` the log line that says what happened.
 */
export function allowTaskEgress(deps: EgressDeps, taskID: string, policy: TaskEgressPolicy, rule: string): { allowed?: string[]; event: RunnerEventBody } {
  const applied = deps.egress.allow(taskID, rule);
  if (!applied.ok) return { event: { type: "log", data: { level: "warn", message: `egress rule not applied: ${applied.error}` } } };
  return {
    allowed: [...policy.allowed, rule],
    event: { type: "log", data: { level: "info", message: `egress to ${rule} allowed for the rest of this task` } },
  };
}

/** Rules from their text form; the edge validated them, so one that does not parse is dropped. */
function rulesOf(rules: readonly string[]): HostRule[] {
  return rules.flatMap((rule) => {
    const parsed = parseHostRule(rule);
    return parsed.ok ? [parsed.value] : [];
  });
}
