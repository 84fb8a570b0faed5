/**
 * Temporary folders for tests (internal to tests): each is removed when the test that made it
 * finishes, passed or failed, so that suites leave nothing behind in the system's temporary
 * folder. Call it in a test or in a `beforeEach`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";

export function testDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
