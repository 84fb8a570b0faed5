/**
 * One slot of the warm pool (internal to task/): a task directory (`<home>/tasks/slot-<id>`,
 * on its own disk when the runner bounds them, with `workspace/` and `state/`), a model proxy
 * socket directory and, with environments, an egress socket directory, all made before the
 * slot's worker is started with them mounted. A task that takes the slot has its directory
 * there (the clone and the saved conversation go into the mounted directories); at launch its
 * sockets move in (`moveSocketInto`) and the worker gets its `start` line. A slot serves one
 * task: a worker that was taken is never handed out again, and an unused one is removed.
 */
import { mkdir, rename, rm, rmdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { WarmWorker } from "../ports.ts";

export interface SlotPaths {
  id: string;
  /** The task directory: the workspace and state the worker has mounted. */
  dir: string;
  /** Mounted at the container's model proxy directory. */
  proxyDir: string;
  /** Mounted at the container's egress directory, when the runner has environments. */
  egressDir?: string;
}

export class PoolSlot implements SlotPaths {
  readonly id: string;
  readonly dir: string;
  readonly proxyDir: string;
  readonly egressDir?: string;
  private used = false;
  private died = false;

  constructor(
    paths: SlotPaths,
    /** Settles once the slot's disk and directories are made (or could not be): the task's preparation waits for it. */
    readonly settled: Promise<void>,
    /** The slot's worker once it is up; undefined when it could not be made. */
    private readonly ready: Promise<WarmWorker | undefined>,
    /** The worker image's ID now (checked when the slot was taken); undefined when unknown. */
    private readonly currentImage: () => Promise<string | undefined>,
  ) {
    this.id = paths.id;
    this.dir = paths.dir;
    this.proxyDir = paths.proxyDir;
    if (paths.egressDir) this.egressDir = paths.egressDir;
    void ready.then((worker) => worker?.stopped.then(() => (this.died = true)));
  }

  /** Its worker stopped before a task took it. */
  get dead(): boolean {
    return this.died;
  }

  /**
   * The slot's worker for its task, once: only while it still waits and was made from the
   * current image; otherwise it is removed and the task starts a worker the usual way.
   */
  async claim(): Promise<WarmWorker | undefined> {
    if (this.used) return undefined;
    this.used = true;
    const worker = await this.ready;
    if (!worker) return undefined;
    const image = await this.currentImage();
    if (this.died || image === undefined || image !== worker.imageID) {
      await worker.discard();
      return undefined;
    }
    return worker;
  }

  /** The slot is left unused (or its worker was refused): its worker and socket directories go; the task directory is the task's. */
  async release(): Promise<void> {
    const wasUsed = this.used;
    this.used = true;
    if (!wasUsed) await (await this.ready)?.discard();
    await removeSocketDirs(this);
  }
}

/** Makes the slot's directories: the task directory's `workspace/` and `state/`, the socket directories. */
export async function makeSlotDirs(paths: SlotPaths): Promise<void> {
  await Promise.all([join(paths.dir, "workspace"), join(paths.dir, "state")].map((d) => mkdir(d, { recursive: true })));
  for (const d of [paths.proxyDir, paths.egressDir]) if (d) await mkdir(d, { recursive: true, mode: 0o755 });
}

export async function removeSocketDirs(paths: SlotPaths): Promise<void> {
  for (const d of [paths.proxyDir, paths.egressDir]) if (d) await rm(d, { recursive: true, force: true });
}

/**
 * The socket (alone in its directory, where its proxy listens) moves into `slotDir`, which
 * then takes its directory's place: the proxy's paths stay what they were, and the pooled
 * worker, which has `slotDir` mounted, sees the socket. A listening unix socket is found by
 * its inode, so the move does not disturb it; a proxy that registers the task again (after a
 * runner restart) makes its socket in the same directory, which the worker still sees.
 */
export async function moveSocketInto(socketPath: string, slotDir: string): Promise<void> {
  const dir = dirname(socketPath);
  await rename(socketPath, join(slotDir, basename(socketPath)));
  await rmdir(dir);
  await rename(slotDir, dir);
}
