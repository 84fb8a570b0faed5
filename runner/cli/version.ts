/**
 * The runner's version: package.json's, read at start-up from the project root (two folders
 * up from runner/cli/ in the sources, and from dist/runner/ in the bundle).
 */
import { readFileSync } from "node:fs";

export const RUNNER_VERSION: string = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
