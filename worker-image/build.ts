/**
 * `npm run image`: bundles the agent, then builds the worker image with the docker CLI,
 * showing each step. The base is BASE_IMAGE (default node:22-bookworm-slim) when the engine
 * has it; otherwise `tether-base:local`, built by build-base.sh first if missing (no registry
 * can be reached here). Tags TETHER_WORKER_IMAGE (default tether-worker:latest) and prints
 * the tag and size.
 */
import { execFileSync, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleAgent } from "./bundle.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_WORKER_IMAGE = "tether-worker:latest";
const PUBLIC_BASE = "node:22-bookworm-slim";
const LOCAL_BASE = "tether-base:local";

function hasImage(tag: string): boolean {
  try {
    execFileSync("docker", ["image", "inspect", tag], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function run(program: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    const relay = (chunk: Buffer) => chunk.toString().split("\n").filter(Boolean).forEach(log);
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${program} ${args.slice(0, 2).join(" ")} exited with ${code}`))));
  });
}

/** Picks the base image: the public one when present, else the local one (built if needed). */
export async function chooseBase(log: (line: string) => void): Promise<string> {
  const wanted = process.env.BASE_IMAGE ?? PUBLIC_BASE;
  if (hasImage(wanted)) return wanted;
  log(`base ${wanted} is not on this engine (and cannot be pulled here); using ${LOCAL_BASE}`);
  if (!hasImage(LOCAL_BASE)) {
    log(`${LOCAL_BASE} is missing too: building it with build-base.sh`);
    await run("bash", [join(here, "build-base.sh"), LOCAL_BASE], log);
  }
  return LOCAL_BASE;
}

export async function buildWorkerImage(options: { tag?: string; log?: (line: string) => void } = {}): Promise<{ tag: string; sizeBytes: number; base: string }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tag = options.tag ?? process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;
  const bundle = await bundleAgent();
  log(`bundled ${bundle}`);
  const base = await chooseBase(log);
  log(`building ${tag} from ${base}`);
  await run("docker", ["build", "--network", "host", "--build-arg", `BASE_IMAGE=${base}`, "--tag", tag, here], log);
  const sizeBytes = Number(execFileSync("docker", ["image", "inspect", tag, "--format", "{{.Size}}"]).toString().trim());
  return { tag, sizeBytes, base };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  buildWorkerImage().then(
    ({ tag, sizeBytes, base }) => console.log(`built ${tag} (from ${base}): ${(sizeBytes / 1e6).toFixed(0)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`),
    (err: unknown) => {
      console.error(`image build failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
