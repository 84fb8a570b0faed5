/**
 * Runs once before the node project's tests: builds the web app into edge/public, so every
 * edge a test starts serves the app as it is in this tree (and no test rebuilds it while
 * another test's edge is serving it).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup(): void {
  const root = join(import.meta.dirname, "../..");
  execFileSync(join(root, "node_modules", ".bin", "tsx"), [join(root, "edge", "web", "build.mts")], { cwd: root, stdio: "pipe" });
}
