/**
 * Test helper (internal): makes sure the worker image holds the agent as bundled from the
 * current source and was built from this tree's Dockerfile and build-base.sh, building it
 * when it is missing or stale.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildWorkerImage, DEFAULT_WORKER_IMAGE, isWorkerImageCurrent } from "../worker-image/build.ts";
import { bundleAgent } from "../worker-image/bundle.ts";

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

function agentInImage(tag: string): Buffer | null {
  try {
    return execFileSync("docker", ["run", "--rm", "--network", "none", "--entrypoint", "cat", tag, "/opt/tether/agent.mjs"], { maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}

export async function ensureWorkerImage(tag = process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tether-bundle-"));
  try {
    const fresh = readFileSync(await bundleAgent(join(dir, "agent.mjs")));
    const current = isWorkerImageCurrent(tag) ? agentInImage(tag) : null;
    if (current !== null && sha(current) === sha(fresh)) return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await buildWorkerImage({ tag, log: () => {} });
  return tag;
}
