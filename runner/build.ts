/**
 * Bundles the runner (runner/cli/run.ts and its dependencies) into ES modules for Node 20:
 * dist/runner/tether-runner.mjs and the chunks it loads on demand, so `--help` reads only
 * commander and the config schema while `start` loads the rest. `npm run build:runner`.
 *
 * Left out of the bundle, loaded from node_modules at run time (RUNNER_EXTERNALS):
 * better-sqlite3, a native addon, and the parts of dockerode that read files beside their
 * own sources (lazyDockerParts). Only `start`, `status` and `doctor` load them.
 * pino and pino-pretty bundle: the runner passes pino-pretty as a stream in this thread, never
 * as a transport, so pino starts no worker that would need its files. zod keeps its English
 * locale only (scripts/zod-english-only.ts).
 * Whitespace and syntax are minified, names are not (stack traces still name functions): V8
 * keeps every loaded module's source text in the heap for lazy compilation, and the minified
 * chunks `start` loads are 1.0 MB instead of 1.5 MB (about 1.4 MB less resident at idle).
 *
 * dist/runner/inputs.json lists the project files the bundle was built from (and the
 * package manifests): runner/bin/tether-runner.js runs the bundle only while none of them
 * is newer than it.
 */
import { build, type Plugin } from "esbuild";
import { rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { zodEnglishOnly } from "../scripts/zod-english-only.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const RUNNER_DIST = join(ROOT, "dist", "runner");
/** Packages the bundle loads from node_modules at run time: an installation needs them. */
export const RUNNER_EXTERNALS = ["better-sqlite3", "dockerode"];

/**
 * dockerode and docker-modem bundle, but three of their files load at run time from
 * node_modules, and two of those only when called: docker-modem's ssh.js (ssh2, for ssh://
 * Docker hosts), dockerode's session.js (gRPC, for BuildKit sessions) and buildkit.js
 * (protobufjs). Those read files beside their own sources through __dirname, which a bundle
 * does not have, and the runner never calls them; loading them at start would cost about
 * 25 MB of resident memory.
 */
const lazyDockerParts: Plugin = {
  name: "lazy-docker-parts",
  setup(b) {
    const LAZY: Record<string, string> = {
      "docker-modem/lib/ssh.js": "module.exports = function (opt) { return require(\"docker-modem/lib/ssh.js\")(opt); };",
      "dockerode/lib/session.js": "module.exports = function () { return require(\"dockerode/lib/session.js\").apply(this, arguments); };",
    };
    b.onResolve({ filter: /^(docker-modem|dockerode)\/lib\/(ssh|session|buildkit)\.js$/ }, (args) => ({ path: args.path, external: true }));
    b.onResolve({ filter: /^\.\/buildkit$/ }, (args) => (/[\\/]dockerode[\\/]lib$/.test(args.resolveDir) ? { path: "dockerode/lib/buildkit.js", external: true } : undefined));
    b.onLoad({ filter: /[\\/](docker-modem[\\/]lib[\\/]ssh|dockerode[\\/]lib[\\/]session)\.js$/ }, (args) => {
      const key = Object.keys(LAZY).find((k) => args.path.replaceAll("\\", "/").endsWith(`node_modules/${k}`));
      return key ? { contents: LAZY[key], loader: "js" } : undefined;
    });
  },
};

/**
 * The bundle's entry, the project files it was built from, and for each file written (by
 * absolute path) the modules it holds (paths relative to the project, node_modules included).
 */
export interface RunnerBundle {
  bundle: string;
  inputs: string[];
  chunks: Record<string, string[]>;
}

export async function bundleRunner(outdir = RUNNER_DIST): Promise<RunnerBundle> {
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { "tether-runner": join(ROOT, "runner", "cli", "run.ts") },
    outdir,
    outExtension: { ".js": ".mjs" },
    // Chunks sit beside the entry: modules find package.json and the agent bundle relative to import.meta.url.
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
    plugins: [zodEnglishOnly, lazyDockerParts],
    external: ["better-sqlite3"],
    // CommonJS parts of dependencies call require() for Node's built-ins.
    banner: { js: 'import { createRequire as __tetherRequire } from "node:module"; const require = __tetherRequire(import.meta.url);' },
  });
  // Paths relative to ROOT (absWorkingDir); dependencies change only with the lock file.
  const inputs = [...Object.keys(result.metafile.inputs).filter((p) => !p.includes("node_modules/")), "package.json", "package-lock.json"];
  writeFileSync(join(outdir, "inputs.json"), `${JSON.stringify(inputs, null, 1)}\n`);
  const chunks = Object.fromEntries(Object.entries(result.metafile.outputs).map(([path, out]) => [join(ROOT, path), Object.keys(out.inputs)]));
  return { bundle: join(outdir, "tether-runner.mjs"), inputs, chunks };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const { bundle, inputs } = await bundleRunner();
  const size = statSync(bundle).size;
  console.log(`bundled ${relative(ROOT, bundle)} (${Math.round(size / 1024)} KiB entry, ${inputs.length} inputs) in ${Date.now() - started} ms`);
}
