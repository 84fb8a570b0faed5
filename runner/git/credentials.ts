/**
 * How git on the host gets the runner's credentials without them ever touching a command
 * line, a repository's config or a container, and only for the hosts they belong to
 * (internal to runner/git; config.ts shares its host pattern).
 *
 * - HTTPS token: a credential helper (a small script, written once, that holds no secret)
 *   answers git's `get` with the user name and token from the git process's own environment,
 *   which other users cannot read (unlike argv in `ps`). It answers only when the protocol is
 *   `https` and the host is one of `GitCredentials.hosts`; for any other host, and for
 *   `http://`, it says nothing and git fails to authenticate. Without hosts the token is not
 *   put into git's environment at all. Redirects are not followed, and TLS is verified.
 * - SSH: `GIT_SSH_COMMAND` never lets ssh use the operator's agent (`SSH_AUTH_SOCK` is dropped,
 *   `IdentityAgent=none`). With a key it is `-i key -o IdentitiesOnly=yes`; without one ssh
 *   reads neither `~/.ssh/config` nor any key in `~/.ssh` (`-F /dev/null`, `IdentityFile=none`),
 *   so `git@host:path` cannot log in anywhere as the operator.
 * - No prompt: no terminal prompt and no askpass program (an empty `GIT_ASKPASS` also
 *   overrides a `core.askPass` from the operator's own config).
 *
 * Configuration that must hold for every git call is passed as `GIT_CONFIG_COUNT` /
 * `GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n`, which git reads as command-line scope.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GitCredentials {
  /** Sent as the HTTPS password, to `hosts` only. */
  httpsToken?: string;
  /** The HTTPS user name that goes with the token (default `x-access-token`). */
  httpsUser?: string;
  /** The hosts (`host` or `host:port`) the token is given to over https; none when absent. */
  hosts?: readonly string[];
  /** Path of an SSH private key. */
  sshKeyPath?: string;
}

/** A host entry of `GitCredentials.hosts`: a DNS name or IPv4 address, with an optional port. */
export const CREDENTIAL_HOST_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/;

/**
 * git's credential protocol: `get` reads `key=value` lines up to a blank line. The host
 * comes with its port when the URL names one; `:443` is the https default and is dropped.
 */
const HELPER_SCRIPT = `#!/bin/sh
set -f
[ "$1" = get ] || exit 0
protocol=
host=
while IFS= read -r line; do
  case "$line" in
    protocol=*) protocol=\${line#protocol=} ;;
    host=*) host=\${line#host=} ;;
    "") break ;;
  esac
done
[ "$protocol" = https ] || exit 0
host=$(printf '%s' "$host" | tr 'A-Z' 'a-z')
host=\${host%:443}
for allowed in $TETHER_GIT_HELPER_HOSTS; do
  if [ "$host" = "$allowed" ]; then
    printf 'username=%s\\npassword=%s\\n' "$TETHER_GIT_USERNAME" "$TETHER_GIT_PASSWORD"
    exit 0
  fi
done
exit 0
`;

let helperPath: string | undefined;

function credentialHelper(): string {
  if (helperPath === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "tether-git-helper-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "credential-helper.sh");
    writeFileSync(path, HELPER_SCRIPT, { mode: 0o700 });
    chmodSync(path, 0o700);
    helperPath = path;
  }
  return helperPath;
}

/** Settings every host git call gets, whatever the repository's own config says. */
const FIXED_CONFIG: [string, string][] = [
  // The workspace is chowned to the container's uid; git must still work on it as the runner.
  ["safe.directory", "*"],
  // No helper from the host's global config answers for a task: only the runner's own does.
  ["credential.helper", ""],
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["commit.gpgSign", "false"],
  ["protocol.ext.allow", "never"],
  // A redirect would take the request, and the credential asked for next, to another server.
  ["http.followRedirects", "false"],
  ["http.sslVerify", "true"],
];

/** `host` as the helper compares it: lower case, without the https default port. */
export function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/:443$/, "");
}

/** The environment for one git call: the caller's, with prompts off and credentials in. */
export function gitEnv(credentials: GitCredentials = {}, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C", GIT_ASKPASS: "" };
  for (const name of ["GIT_DIR", "GIT_WORK_TREE", "SSH_ASKPASS", "SSH_AUTH_SOCK", "GIT_SSH", "GIT_SSL_NO_VERIFY", "TETHER_GIT_HELPER_HOSTS", "TETHER_GIT_USERNAME", "TETHER_GIT_PASSWORD"]) {
    delete env[name];
  }
  const config = [...FIXED_CONFIG];
  const hosts = (credentials.hosts ?? []).filter((h) => CREDENTIAL_HOST_PATTERN.test(h)).map(normalizeHost);
  if (credentials.httpsToken && hosts.length > 0) {
    config.push(["credential.helper", credentialHelper()]);
    env.TETHER_GIT_HELPER_HOSTS = hosts.join(" ");
    env.TETHER_GIT_USERNAME = credentials.httpsUser ?? "x-access-token";
    env.TETHER_GIT_PASSWORD = credentials.httpsToken;
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  env.GIT_SSH_COMMAND = sshCommand(credentials.sshKeyPath);
  return env;
}

function sshCommand(keyPath: string | undefined): string {
  const always = "-o IdentityAgent=none -o BatchMode=yes";
  if (keyPath) return `ssh -i ${shellQuote(keyPath)} -o IdentitiesOnly=yes ${always} -o StrictHostKeyChecking=accept-new`;
  return `ssh -F /dev/null -o IdentitiesOnly=yes -o IdentityFile=none ${always} -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=accept-new`;
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
