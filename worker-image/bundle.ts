/**
 * Bundles the agent (src/main.ts and every dependency) into one ES module for Node 20:
 * worker-image/dist/agent.mjs by default. `npm run build:worker`.
 */
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
export const AGENT_BUNDLE = join(here, "dist", "agent.mjs");

export async function bundleAgent(outfile = AGENT_BUNDLE): Promise<string> {
  await build({
    entryPoints: [join(here, "src", "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    // CommonJS parts of dependencies call require() for Node's built-ins.
    banner: { js: 'import { createRequire as __tetherRequire } from "node:module"; const require = __tetherRequire(import.meta.url);' },
  });
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const out = await bundleAgent();
  const { size } = await import("node:fs").then((fs) => fs.statSync(out));
  console.log(`bundled ${out} (${Math.round(size / 1024)} KiB) in ${Date.now() - started} ms`);
}
