/**
 * `tether-runner doctor`: checks what the runner needs and says how to fix what is wrong —
 * the registration, the model key, the Docker engine and the worker image (or the process
 * sandbox's warning), each of `allowedImages` (it can run the agent: the check tasks get),
 * and the edge (reachable, credential accepted).
 */
import type { RunnerConfig } from "../config.ts";
import { configPath } from "../config.ts";
import type { Result } from "../ports.ts";

export interface Check {
  name: string;
  ok: boolean;
  /** A warning passes but deserves attention. */
  warn?: boolean;
  detail: string;
  fix?: string;
}

/** The two Docker calls the doctor makes (dockerode fits). */
export interface DockerProbe {
  ping(): Promise<unknown>;
  getImage(name: string): { inspect(): Promise<{ Id: string; Size?: number }> };
}

/** The sandbox's check of another image (`Sandbox.checkImage`). */
export type ImageChecker = (image: string) => Promise<Result<void>>;

export async function runDoctor(config: RunnerConfig, docker: DockerProbe, timeoutMs = 10_000, checkImage?: ImageChecker): Promise<Check[]> {
  const checks: Check[] = [];
  const file = configPath(config.home);

  const registered = Boolean(config.edgeURL && config.credential);
  checks.push(
    registered
      ? { name: "registration", ok: true, detail: `runner ${config.runnerID ?? "(no ID)"} of ${config.edgeURL}` }
      : {
          name: "registration",
          ok: false,
          detail: `no edge URL or credential in ${file} or the environment`,
          fix: "make a registration token in the app, then run: tether-runner register --edge https://YOUR-EDGE --token TOKEN",
        },
  );

  checks.push(
    config.anthropicAPIKey
      ? { name: "model key", ok: true, detail: `ANTHROPIC_API_KEY is set; calls go to ${config.anthropicBaseURL}` }
      : {
          name: "model key",
          ok: false,
          detail: "the runner has no model key (ANTHROPIC_API_KEY): every task it takes fails at once",
          fix: `set ANTHROPIC_API_KEY in the runner's environment (or "anthropicAPIKey" in ${file}, or --anthropic-api-key)`,
        },
  );

  if (config.sandbox === "process") {
    checks.push({
      name: "sandbox",
      ok: true,
      warn: true,
      detail: "sandbox is `process`: the agent runs as a plain child process and isolates NOTHING (it can read the runner's files and reach the network)",
      fix: "use --sandbox docker (the default) on any host with a Docker engine",
    });
  } else {
    const engine = await probe(() => docker.ping(), timeoutMs);
    checks.push(
      engine.ok
        ? { name: "docker engine", ok: true, detail: `answers on ${process.env.DOCKER_HOST ?? "/var/run/docker.sock"}` }
        : {
            name: "docker engine",
            ok: false,
            detail: `no Docker engine answers on ${process.env.DOCKER_HOST ?? "/var/run/docker.sock"}: ${engine.error}`,
            fix: "install and start Docker (e.g. `apt-get install docker.io && systemctl start docker`), and let this user reach its socket (the `docker` group)",
          },
    );
    if (engine.ok) {
      const image = await probe(() => docker.getImage(config.workerImage).inspect(), timeoutMs);
      checks.push(
        image.ok
          ? { name: "worker image", ok: true, detail: `${config.workerImage} is present` }
          : {
              name: "worker image",
              ok: false,
              detail: `image ${config.workerImage} is not on this host: ${image.error}`,
              fix: `build it in the Tether checkout: TETHER_WORKER_IMAGE=${config.workerImage} npm run image`,
            },
      );
      if (image.ok && checkImage) for (const allowed of config.allowedImages) checks.push(await checkAllowedImage(allowed, checkImage));
    }
  }

  if (config.edgeURL) {
    const health = await probe(async () => {
      const res = await fetch(new URL("/healthz", config.edgeURL), { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.status;
    }, timeoutMs);
    if (!health.ok) {
      checks.push({ name: "edge", ok: false, detail: `cannot reach ${config.edgeURL}: ${health.error}`, fix: "check the URL, DNS and this host's outbound HTTPS" });
    } else {
      checks.push({ name: "edge", ok: true, detail: `${config.edgeURL} answers (HTTP ${health.value})` });
      if (config.credential) checks.push(await checkCredential(config.edgeURL, config.credential, timeoutMs));
    }
  }
  return checks;
}

async function checkAllowedImage(image: string, checkImage: ImageChecker): Promise<Check> {
  const name = `allowed image ${image}`;
  try {
    const checked = await checkImage(image);
    if (checked.ok) return { name, ok: true, detail: "can run the agent under the workers' hardening" };
    return {
      name,
      ok: false,
      detail: `tasks whose environment names it fail: ${checked.error}`,
      fix: "fix the image (runner/README.md, \"Other images\") or take it out of allowedImages",
    };
  } catch (err) {
    return { name, ok: false, detail: `could not be checked: ${(err as Error).message}` };
  }
}

/** Asks the control route without upgrading: 401/403 means the credential is refused. */
async function checkCredential(edgeURL: string, credential: string, timeoutMs: number): Promise<Check> {
  const r = await probe(async () => {
    const res = await fetch(new URL("/v1/runner/connect", edgeURL), {
      headers: { Authorization: `Bearer ${credential}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.status;
  }, timeoutMs);
  if (!r.ok) return { name: "credential", ok: false, detail: `could not check the credential: ${r.error}` };
  if (r.value === 401 || r.value === 403) {
    return {
      name: "credential",
      ok: false,
      detail: `the edge refuses the runner credential (HTTP ${r.value}); the runner may have been deleted`,
      fix: "register again: tether-runner register --edge URL --token NEW-TOKEN",
    };
  }
  return { name: "credential", ok: true, detail: "accepted by the edge" };
}

async function probe<T>(fn: () => Promise<T>, timeoutMs: number): Promise<Result<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, value };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, error: e.cause?.code ? `${e.message} (${e.cause.code})` : e.message };
  } finally {
    clearTimeout(timer);
  }
}

/** The report as lines for a terminal. */
export function formatChecks(checks: Check[]): string {
  return checks
    .map((c) => {
      const mark = !c.ok ? "✗" : c.warn ? "!" : "✓";
      return `${mark} ${c.name}: ${c.detail}${c.fix ? `\n    fix: ${c.fix}` : ""}`;
    })
    .join("\n");
}
