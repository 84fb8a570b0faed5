#!/usr/bin/env node
// Runs the bundle `npm run build` makes (dist/runner/tether-runner.mjs) when it is current:
// none of the files it was built from (dist/runner/inputs.json) is newer than it. Otherwise
// runs runner/cli/run.ts through tsx's loader, so a checkout works with no build step, and
// says so in one line on stderr; TETHER_RUNNER_FROM_SOURCE=1 picks the sources without it.
import { readFileSync, statSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const bundle = new URL("dist/runner/tether-runner.mjs", root);

/** Why the bundle cannot run: missing, or older than one of its inputs; null when current. */
function staleness() {
  const built = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) return "there is no bundle";
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(new URL("dist/runner/inputs.json", root), "utf8"));
  } catch {
    return "the bundle has no dist/runner/inputs.json";
  }
  // A missing input is not staleness: an installation may carry the bundle without sources.
  const newer = inputs.find((path) => (statSync(new URL(path, root), { throwIfNoEntry: false })?.mtimeMs ?? 0) > built);
  return newer ? `${newer} is newer than the bundle` : null;
}

async function runSources() {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/run.ts");
}

if (process.env.TETHER_RUNNER_FROM_SOURCE === "1") {
  await runSources();
} else {
  const why = staleness();
  if (why === null) {
    await import(bundle.href);
  } else {
    process.stderr.write(`tether-runner: ${why}; running the TypeScript sources through tsx (slower start; \`npm run build\` makes the bundle)\n`);
    await runSources();
  }
}
