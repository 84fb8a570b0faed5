/**
 * `npm run image:runner`: bundles the runner, assembles the runner image's context in
 * dist/runner-image (the bundle, package.json, and from this checkout's node_modules the
 * packages the bundle loads at run time with everything they depend on), then builds
 * runner/image/Dockerfile with the docker CLI. Tags TETHER_RUNNER_IMAGE (default
 * tether-runner:latest) and prints the tag and size.
 *
 * Nothing is compiled or downloaded: better-sqlite3's addon is this host's, so the image's
 * Node must have this host's ABI. The base is BASE_IMAGE (default node:22-bookworm-slim) when
 * the engine has it and its Node's ABI is this host's, else `tether-base:local` (this host's
 * own node; built by worker-image/build-base.sh when missing).
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureLocalBase } from "../../worker-image/build.ts";
import { bundleRunner, RUNNER_EXTERNALS } from "../build.ts";

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, "..", "..");
const CONTEXT = join(ROOT, "dist", "runner-image");
export const DEFAULT_RUNNER_IMAGE = "tether-runner:latest";
const PUBLIC_BASE = "node:22-bookworm-slim";

/** The folder a package `name` resolves to from `fromDir`, as Node looks it up. */
function resolvePackage(name: string, fromDir: string): string | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dir === ROOT || dir === dirname(dir)) return null;
  }
}

/** Every package folder the externals need at run time: their dependencies and the optional ones installed here. */
export function runtimePackages(names: string[] = RUNNER_EXTERNALS): string[] {
  const found = new Set<string>();
  const visit = (name: string, fromDir: string, optional: boolean) => {
    const dir = resolvePackage(name, fromDir);
    if (dir === null) {
      if (optional) return;
      throw new Error(`${name} (needed by ${relative(ROOT, fromDir) || "the runner"}) is not in node_modules: run npm ci`);
    }
    if (found.has(dir)) return;
    found.add(dir);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, dir, manifest.optionalDependencies?.[dep] !== undefined);
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) visit(dep, dir, true);
  };
  for (const name of names) visit(name, ROOT, false);
  return [...found].sort();
}

/** The image's build context: Dockerfile and scripts, app/ = /opt/tether. */
export async function assembleContext(): Promise<string> {
  rmSync(CONTEXT, { recursive: true, force: true });
  const app = join(CONTEXT, "app");
  mkdirSync(app, { recursive: true });
  // Bundled straight into the context: dist/runner, which the checkout's bin runs, stays as it is.
  await bundleRunner(join(app, "dist", "runner"));
  for (const file of ["Dockerfile", "entrypoint.sh", "tether-runner.sh"]) cpSync(join(here, file), join(CONTEXT, file));
  cpSync(join(ROOT, "package.json"), join(app, "package.json"));
  for (const dir of runtimePackages()) {
    // A native addon loads from build/Release/*.node: its sources and build leftovers stay behind.
    const native = existsSync(join(dir, "binding.gyp"));
    const keep = (src: string) => {
      const rel = relative(dir, src);
      return !(native && (/^(deps|src)$/.test(rel) || /^build[\\/]Release[\\/](obj|obj\.target|.*\.a)$/.test(rel)));
    };
    cpSync(dir, join(app, relative(ROOT, dir)), { recursive: true, filter: keep });
  }
  return CONTEXT;
}

/** Node's module ABI in an image, or null when the engine lacks the image or it has no node. */
function imageABI(tag: string): string | null {
  try {
    return execFileSync("docker", ["run", "--rm", "--network", "none", "--entrypoint", "node", tag, "-p", "process.versions.modules"], { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export async function chooseRunnerBase(log: (line: string) => void): Promise<string> {
  const wanted = process.env.BASE_IMAGE ?? PUBLIC_BASE;
  const abi = imageABI(wanted);
  if (abi === process.versions.modules) return wanted;
  log(abi === null ? `base ${wanted} is not on this engine` : `base ${wanted} has Node ABI ${abi}, this host's node_modules ${process.versions.modules}`);
  log("using tether-base:local, which carries this host's node");
  return ensureLocalBase(log);
}

function docker(args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    const relay = (chunk: Buffer) => chunk.toString().split("\n").filter(Boolean).forEach(log);
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`docker ${args[0]} exited with ${code}`))));
  });
}

export async function buildRunnerImage(options: { tag?: string; log?: (line: string) => void } = {}): Promise<{ tag: string; sizeBytes: number; base: string }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tag = options.tag ?? process.env.TETHER_RUNNER_IMAGE ?? DEFAULT_RUNNER_IMAGE;
  const context = await assembleContext();
  log(`assembled ${relative(ROOT, context)}`);
  const base = await chooseRunnerBase(log);
  log(`building ${tag} from ${base}`);
  await docker(["build", "--network", "host", "--build-arg", `BASE_IMAGE=${base}`, "--tag", tag, context], log);
  const sizeBytes = Number(execFileSync("docker", ["image", "inspect", tag, "--format", "{{.Size}}"]).toString().trim());
  return { tag, sizeBytes, base };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  buildRunnerImage().then(
    ({ tag, sizeBytes, base }) => console.log(`built ${tag} (from ${base}): ${(sizeBytes / 1e6).toFixed(0)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`),
    (err: unknown) => {
      console.error(`runner image build failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
