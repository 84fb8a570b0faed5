/**
 * How git on the host gets the runner's credentials without them ever touching a command
 * line, a repository's config or a container (internal to git.ts).
 *
 * - HTTPS token: `GIT_ASKPASS` names a small script (written once, holds no secret) that
 *   prints the user name or the token from the git process's own environment, which other
 *   users cannot read (unlike argv in `ps`).
 * - SSH key: `GIT_SSH_COMMAND` with `-i key -o IdentitiesOnly=yes`, in batch mode.
 *
 * Configuration that must hold for every git call is passed as `GIT_CONFIG_COUNT` /
 * `GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n`, which git reads as command-line scope.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GitCredentials {
  /** Sent as the HTTPS password. */
  httpsToken?: string;
  /** The HTTPS user name that goes with the token (default `x-access-token`). */
  httpsUser?: string;
  /** Path of an SSH private key. */
  sshKeyPath?: string;
}

const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$TETHER_GIT_USERNAME" ;;
  *) printf '%s\\n' "$TETHER_GIT_PASSWORD" ;;
esac
`;

let askpassPath: string | undefined;

function askpass(): string {
  if (askpassPath === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "tether-askpass-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "askpass.sh");
    writeFileSync(path, ASKPASS_SCRIPT, { mode: 0o700 });
    chmodSync(path, 0o700);
    askpassPath = path;
  }
  return askpassPath;
}

/** Settings every host git call gets, whatever the repository's own config says. */
const FIXED_CONFIG: [string, string][] = [
  // The workspace is chowned to the container's uid; git must still work on it as the runner.
  ["safe.directory", "*"],
  // No helper from the host's global config answers for a task: only the runner's config does.
  ["credential.helper", ""],
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["commit.gpgSign", "false"],
  ["protocol.ext.allow", "never"],
];

/** The environment for one git call: the caller's, with prompts off and credentials in. */
export function gitEnv(credentials: GitCredentials = {}, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };
  delete env.GIT_DIR;
  delete env.GIT_WORK_TREE;
  delete env.GIT_ASKPASS;
  delete env.SSH_ASKPASS;
  env.GIT_CONFIG_COUNT = String(FIXED_CONFIG.length);
  FIXED_CONFIG.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  if (credentials.httpsToken) {
    env.GIT_ASKPASS = askpass();
    env.TETHER_GIT_USERNAME = credentials.httpsUser ?? "x-access-token";
    env.TETHER_GIT_PASSWORD = credentials.httpsToken;
  }
  if (credentials.sshKeyPath) {
    env.GIT_SSH_COMMAND = `ssh -i ${shellQuote(credentials.sshKeyPath)} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`;
  }
  return env;
}

/** `text` with the token and any `user:password@` in a URL masked, for error messages. */
export function scrubSecrets(text: string, credentials: GitCredentials = {}): string {
  let out = text.replace(/(\w+:\/\/)[^\s/@]+@/g, "$1***@");
  if (credentials.httpsToken) out = out.split(credentials.httpsToken).join("***");
  return out;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
