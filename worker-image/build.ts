/**
 * `npm run image`: bundles the agent, then builds the worker image with the docker CLI,
 * showing each step. The base is BASE_IMAGE (default node:22-bookworm-slim) when the engine
 * has it; otherwise `tether-base:local`, built by build-base.sh first when it is missing or
 * was built by another version of that script (no registry can be reached here). Tags
 * TETHER_WORKER_IMAGE (default tether-worker:latest) and prints the tag and size.
 * Both images carry the label `tether.recipe`: the sha256 of the files they are built from
 * (build-base.sh for the base; the Dockerfile and build-base.sh for the worker image).
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleAgent } from "./bundle.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_WORKER_IMAGE = "tether-worker:latest";
const PUBLIC_BASE = "node:22-bookworm-slim";
export const LOCAL_BASE = "tether-base:local";
const BASE_SCRIPT = join(here, "build-base.sh");
const RECIPE_LABEL = "tether.recipe";

/** The sha256 of the files, in order: what an image built from them is labelled with. */
function hashFiles(...files: string[]): string {
  const hash = createHash("sha256");
  for (const file of files) hash.update(readFileSync(file));
  return hash.digest("hex");
}

const baseRecipe = () => hashFiles(BASE_SCRIPT);
const workerRecipe = () => hashFiles(join(here, "Dockerfile"), BASE_SCRIPT);

/** The image's labels, or null when the engine has no such image. */
function imageLabels(tag: string): Record<string, string> | null {
  try {
    const out = execFileSync("docker", ["image", "inspect", tag, "--format", "{{json .Config.Labels}}"], { stdio: ["ignore", "pipe", "ignore"] });
    return (JSON.parse(out.toString()) as Record<string, string> | null) ?? {};
  } catch {
    return null;
  }
}

const hasImage = (tag: string) => imageLabels(tag) !== null;

/** Whether the worker image was built from this tree's Dockerfile and build-base.sh. */
export function isWorkerImageCurrent(tag: string): boolean {
  return imageLabels(tag)?.[RECIPE_LABEL] === workerRecipe();
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

/** Builds the local base with build-base.sh unless the engine has one built by this very script. */
export async function ensureLocalBase(log: (line: string) => void, tag = LOCAL_BASE): Promise<string> {
  const labels = imageLabels(tag);
  if (labels?.[RECIPE_LABEL] === baseRecipe()) return tag;
  log(labels === null ? `${tag} is missing: building it with build-base.sh` : `${tag} was built by another build-base.sh: rebuilding it`);
  await run("bash", [BASE_SCRIPT, tag], log);
  return tag;
}

/** Picks the base image: BASE_IMAGE or the public one when present, else the local one (built if needed). */
export async function chooseBase(log: (line: string) => void): Promise<string> {
  const wanted = process.env.BASE_IMAGE ?? PUBLIC_BASE;
  if (hasImage(wanted)) return wanted;
  log(`base ${wanted} is not on this engine (and cannot be pulled here); using ${LOCAL_BASE}`);
  return ensureLocalBase(log);
}

export async function buildWorkerImage(options: { tag?: string; log?: (line: string) => void } = {}): Promise<{ tag: string; sizeBytes: number; base: string }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tag = options.tag ?? process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;
  const bundle = await bundleAgent();
  log(`bundled ${bundle}`);
  const base = await chooseBase(log);
  log(`building ${tag} from ${base}`);
  await run("docker", ["build", "--network", "host", "--build-arg", `BASE_IMAGE=${base}`, "--label", `${RECIPE_LABEL}=${workerRecipe()}`, "--tag", tag, here], log);
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
