/**
 * Saved environments: what an account keeps for its repositories (`/v1/environments`) and
 * what a task record carries of the one it uses.
 *
 * An environment has a name, a repository match, a setup script, a network policy (hosts
 * the setup phase and the agent phase may reach besides the runner's defaults) and
 * non-secret variables (set in the task's containers), and may name a container image for the
 * task's containers (`image`: a reference such as `registry.test:5000/team/node:22`; the edge
 * checks its syntax, the runner decides whether it allows it). The match is a prefix of the
 * repository URL, or a glob when it holds `*` (any run of characters, `/` included,
 * anchored at both ends). Among several matches the longest pattern wins, then the oldest.
 * Variables whose names look secret (containing TOKEN, KEY, SECRET or PASSWORD, any case)
 * are refused: secrets stay on the runner.
 */
import { z } from "zod";
import { LIMITS } from "./limits.ts";

/** A host, `*.domain`, or either with `:port` (443 and 80 without one). */
export const EGRESS_RULE_PATTERN = /^(\*\.)?[a-zA-Z0-9_]([a-zA-Z0-9_.-]{0,251}[a-zA-Z0-9_])?(:\d{1,5})?$/;

/** Names a variable may not have: they look like secrets. */
export const SECRET_NAME_PATTERN = /TOKEN|KEY|SECRET|PASSWORD/i;

const EgressRule = z.string().trim().min(1).max(300).regex(EGRESS_RULE_PATTERN, "a host, *.domain or host:port");

/** Hosts (host, *.domain, host:port) each phase may reach besides the runner's defaults. */
export const NetworkPolicy = z
  .object({
    setup: z.array(EgressRule).max(LIMITS.maxEnvironmentHosts).default([]),
    agent: z.array(EgressRule).max(LIMITS.maxEnvironmentHosts).default([]),
  })
  .strict();
export type NetworkPolicy = z.infer<typeof NetworkPolicy>;

export const VariableName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a variable name is letters, digits and _, not starting with a digit")
  .refine((name) => !SECRET_NAME_PATTERN.test(name), "looks like a secret (TOKEN, KEY, SECRET, PASSWORD): secrets stay on the runner")
  .refine((name) => !/^(TETHER_|HTTPS?_PROXY$|NO_PROXY$|HOME$|PATH$)/i.test(name), "is set by the runner");

export const Variables = z
  .record(VariableName, z.string().max(LIMITS.maxVariableChars))
  .refine((vars) => Object.keys(vars).length <= LIMITS.maxVariables, `at most ${LIMITS.maxVariables} variables`);
export type Variables = z.infer<typeof Variables>;

/**
 * A container image reference: `[host[:port]/]path[:tag][@algorithm:digest]`, the path in
 * lower case (Docker's reference grammar).
 */
export const IMAGE_REFERENCE_PATTERN =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?)\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;

export const ImageReference = z.string().trim().min(1).max(512).regex(IMAGE_REFERENCE_PATTERN, "an image reference such as name:tag or host:port/path:tag");

/** A prefix of the repository URL, or a glob with `*`. */
export const RepositoryMatch = z.string().trim().min(1).max(2048);

/** `POST /v1/environments` and `PUT /v1/environments/:id`. */
export const EnvironmentRequest = z
  .object({
    name: z.string().trim().min(1).max(100),
    repository: RepositoryMatch,
    setup: z.string().trim().min(1).max(LIMITS.maxSetupChars).optional(),
    network: NetworkPolicy.default({ setup: [], agent: [] }),
    variables: Variables.default({}),
    image: ImageReference.optional(),
  })
  .strict();
export type EnvironmentRequest = z.infer<typeof EnvironmentRequest>;

export const Environment = z.object({
  id: z.string(),
  name: z.string(),
  repository: z.string(),
  setup: z.string().optional(),
  network: NetworkPolicy,
  variables: z.record(z.string(), z.string()),
  image: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Environment = z.infer<typeof Environment>;

/** What a task record keeps of its environment, copied at creation: the runner needs nothing else. */
export const TaskEnvironment = Environment.pick({ id: true, name: true, setup: true, network: true, variables: true, image: true });
export type TaskEnvironment = z.infer<typeof TaskEnvironment>;

/** Whether `pattern` matches the repository URL: a prefix, or a glob when it holds `*`. */
export function matchesRepository(pattern: string, url: string): boolean {
  if (!pattern.includes("*")) return url.startsWith(pattern);
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`).test(url);
}

/** The environment for a repository: the longest matching pattern, then the oldest. */
export function environmentFor(environments: readonly Environment[], url: string): Environment | undefined {
  return environments
    .filter((e) => matchesRepository(e.repository, url))
    .sort((a, b) => b.repository.length - a.repository.length || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))[0];
}

/** The part of an environment a task record carries. */
export function taskEnvironmentOf(env: Environment): TaskEnvironment {
  return { id: env.id, name: env.name, ...(env.setup ? { setup: env.setup } : {}), network: env.network, variables: env.variables, ...(env.image ? { image: env.image } : {}) };
}
