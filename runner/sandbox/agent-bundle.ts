/**
 * The agent in another image (internal to sandbox/): the worker image's own bundle
 * (`/opt/tether/agent.mjs`), copied out of it through the Docker API once per worker image ID
 * into `<agentDir>/<id>/agent.mjs` on the host. A container of another image mounts that file
 * read-only at the same path and runs it with the image's `node`, so a task runs the same
 * agent whatever its image. The copy goes through the engine, not the runner's own files, so
 * it works where the runner itself runs in a container (its home has the same path on the
 * host, where the engine resolves bind mounts).
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type Docker from "dockerode";

/** Where the agent is in the worker image, and where other images' containers see it. */
export const AGENT_PATH = "/opt/tether/agent.mjs";

/** Copies the worker image's agent to the host, unless this image's copy is there: its path. */
export async function agentBundleOf(docker: Docker, workerImage: string, agentDir: string, labels: Record<string, string>): Promise<string> {
  const { Id } = (await docker.getImage(workerImage).inspect()) as { Id: string };
  const dir = join(agentDir, Id.replace(/^sha256:/, "").slice(0, 16));
  const file = join(dir, "agent.mjs");
  if (existsSync(file)) return file;
  // A container that never starts: only its filesystem is read.
  const container = await docker.createContainer({ Image: workerImage, Entrypoint: ["true"], Cmd: [], NetworkDisabled: true, Labels: labels });
  try {
    const archive = (await container.getArchive({ path: AGENT_PATH })) as NodeJS.ReadableStream;
    const chunks: Buffer[] = [];
    for await (const chunk of archive) chunks.push(Buffer.from(chunk as Buffer));
    const agent = firstFileOf(Buffer.concat(chunks), workerImage);
    await mkdir(dir, { recursive: true });
    // Two tasks may copy at once: each writes its own file, and the renames agree.
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, agent);
    // Read by the container's uid, which owns nothing on the host.
    await chmod(tmp, 0o644);
    await rename(tmp, file);
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
  return file;
}

/** The first regular file of a tar archive (Docker's archive of one path), past any PAX headers. */
function firstFileOf(tar: Buffer, image: string): Buffer {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = Number.parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/s, "").trim() || "0", 8);
    const type = header[156];
    const start = offset + 512;
    // "0" or NUL: a regular file.
    if (type === 0x30 || type === 0) return tar.subarray(start, start + size);
    offset = start + Math.ceil(size / 512) * 512;
  }
  throw new Error(`the worker image ${image} has no ${AGENT_PATH}`);
}
