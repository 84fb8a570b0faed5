/**
 * The warm pool: workers started ahead of their tasks, so a task pays for neither the
 * container's creation nor Node's start-up. Each waits in its slot (pool-slot.ts) for the
 * `start` line that carries its task.
 *
 * - Size: `size` slots at most, and never more than the runner's capacity leaves (`room()`,
 *   capacity minus the tasks it holds): pooled workers and tasks together stay within the
 *   capacity. `fill()` makes or removes slots to match, in the background; the owner calls
 *   it whenever the tasks it holds change.
 * - Take: a task with no environment variables and the runner's full resources takes a slot
 *   (a waiting one first, else one still starting), for good; others start a worker the
 *   usual way. Taking checks the image: a worker made from an image the tag no longer names is
 *   not used, and the pool is made again from the new one (also checked every
 *   `imageCheckMs`).
 * - A waiting worker that stops is replaced. A slot that cannot be made (no image, no disk)
 *   is tried again after a backoff.
 * - `start` sweeps what an earlier runner left (slot directories no journaled task uses, slot
 *   socket directories); its pooled containers are removed with the orphans. `drain` removes
 *   every waiting worker and its directories, and makes no more.
 */
import { randomBytes } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Task } from "../../shared/task.ts";
import type { Sandbox, SandboxResources, WarmWorker } from "../ports.ts";
import { makeSlotDirs, PoolSlot, removeSocketDirs, type SlotPaths } from "./pool-slot.ts";
import type { EnvironmentDeps } from "./setup-phase.ts";
import { resourcesFor } from "./spec.ts";
import { mountTaskDisk, unmountTaskDisk } from "./task-disk.ts";

const SLOT_PREFIX = "slot-";
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;

export interface WorkerPoolOptions {
  sandbox: Sandbox;
  size: number;
  /** The runner's home: slot directories go in `<home>/tasks`. */
  home: string;
  /** The model proxy's socket directory: each slot's proxy directory is made in it. */
  proxySocketDir: string;
  environments?: EnvironmentDeps;
  resources: SandboxResources;
  /** Each slot's task directory is a disk of this size (task-disk.ts); 0 or absent: no bound. */
  diskMB?: number;
  /** How many more workers the runner's capacity allows now: capacity minus the tasks it holds. */
  room(): number;
  logger: Logger;
  /** How often the worker image is checked while the pool waits (default 30 s). */
  imageCheckMs?: number;
}

export class WorkerPool {
  /** Slots no task has taken, starting or waiting. */
  private readonly slots = new Map<string, { slot: PoolSlot; worker?: WarmWorker }>();
  private imageID: string | undefined;
  private imageCheck: Promise<string | undefined> | undefined;
  private stopped = false;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkerPoolOptions) {}

  /** Sweeps what an earlier runner left (`keepDirs`: task directories journaled tasks use), then fills. */
  async start(keepDirs: ReadonlySet<string>): Promise<void> {
    const tasks = join(this.opts.home, "tasks");
    for (const name of await readdir(tasks).catch(() => [] as string[])) {
      const dir = join(tasks, name);
      if (!name.startsWith(SLOT_PREFIX) || name.endsWith(".img") || keepDirs.has(dir)) continue;
      await unmountTaskDisk(dir, true).catch((err: unknown) => this.opts.logger.warn({ err, dir }, "could not unmount a leftover slot's disk"));
      await rm(dir, { recursive: true, force: true });
    }
    for (const parent of [this.opts.proxySocketDir, this.opts.environments?.egressDir]) {
      if (!parent) continue;
      for (const name of await readdir(parent).catch(() => [] as string[])) {
        if (name.startsWith(SLOT_PREFIX)) await rm(join(parent, name), { recursive: true, force: true });
      }
    }
    this.timer = setInterval(() => void this.checkImage(), this.opts.imageCheckMs ?? 30_000);
    this.timer.unref();
    this.fill();
  }

  /** Waiting and starting workers. */
  get size(): number {
    return this.slots.size;
  }

  /** Whether `task` can run in a pooled worker: the worker image, no variables of its own, the runner's full resources. */
  fits(task: Task): boolean {
    if (task.environment?.image !== undefined) return false;
    if (Object.keys(task.environment?.variables ?? {}).length > 0) return false;
    const wanted = resourcesFor(task.limits, this.opts.resources);
    const own = this.opts.resources;
    return wanted.memoryMB === own.memoryMB && wanted.cpus === own.cpus && wanted.pids === own.pids;
  }

  /**
   * A slot for `task`, or undefined (none, or the task does not fit). The slot is the task's
   * from now on; call `fill()` once the task counts against the capacity.
   */
  take(task: Task): PoolSlot | undefined {
    if (this.stopped || !this.fits(task)) return undefined;
    const entries = [...this.slots.values()].filter((e) => !e.slot.dead);
    const entry = entries.find((e) => e.worker) ?? entries[0];
    if (!entry) return undefined;
    this.slots.delete(entry.slot.id);
    this.imageCheck = this.checkImage();
    this.opts.logger.info({ slotID: entry.slot.id, taskID: task.id, waiting: entry.worker !== undefined }, "pool: slot taken");
    return entry.slot;
  }

  /** Makes or removes slots so the pool holds `min(size, room())`; the work runs in the background. */
  fill(): void {
    if (this.stopped || this.retry) return;
    const target = Math.max(0, Math.min(this.opts.size, this.opts.room()));
    for (const [id, entry] of [...this.slots].reverse()) {
      if (this.slots.size <= target) break;
      this.slots.delete(id);
      void this.remove(entry.slot);
    }
    while (this.slots.size < target) this.warm();
  }

  /** Removes every slot no task took and makes no more. */
  async drain(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    const slots = [...this.slots.values()].map((e) => e.slot);
    this.slots.clear();
    await Promise.all(slots.map((slot) => this.remove(slot)));
  }

  private warm(): void {
    const id = randomBytes(6).toString("hex");
    const paths: SlotPaths = {
      id,
      dir: join(this.opts.home, "tasks", `${SLOT_PREFIX}${id}`),
      proxyDir: join(this.opts.proxySocketDir, `${SLOT_PREFIX}${id}`),
      ...(this.opts.environments ? { egressDir: join(this.opts.environments.egressDir, `${SLOT_PREFIX}${id}`) } : {}),
    };
    const dirs = this.makeDirs(paths);
    const ready = dirs.then((made) => (made ? this.startWorker(paths) : undefined));
    const slot = new PoolSlot(paths, dirs.then(() => undefined), ready, () => this.imageCheck ?? this.checkImage());
    const entry: { slot: PoolSlot; worker?: WarmWorker } = { slot };
    this.slots.set(id, entry);
    void ready.then((worker) => {
      if (!worker) {
        if (this.slots.delete(id)) void this.remove(slot);
        this.backOff();
        return;
      }
      this.failures = 0;
      entry.worker = worker;
      if (this.imageID !== undefined && worker.imageID !== this.imageID) void this.checkImage();
      void worker.stopped.then(() => {
        if (!this.slots.delete(id)) return;
        this.opts.logger.warn({ slotID: id, containerID: worker.id }, "pool: a waiting worker stopped; replacing it");
        void this.remove(slot);
        this.fill();
      });
    });
  }

  /** The slot's disk and directories; false (and said) when they cannot be made. */
  private async makeDirs(paths: SlotPaths): Promise<boolean> {
    try {
      if (this.opts.diskMB) {
        const disk = await mountTaskDisk(paths.dir, this.opts.diskMB);
        if (!disk.ok) throw new Error(disk.error);
      }
      await makeSlotDirs(paths);
      return true;
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, slotID: paths.id }, "pool: could not make a slot's directories");
      return false;
    }
  }

  /** The slot's worker, started with its directories mounted; undefined (and said) when it cannot be. */
  private async startWorker(paths: SlotPaths): Promise<WarmWorker | undefined> {
    const { sandbox, environments, resources } = this.opts;
    try {
      if (!sandbox.prestart) throw new Error(`the ${sandbox.kind} sandbox has no pool`);
      return await sandbox.prestart({
        slotID: paths.id,
        workspaceDir: join(paths.dir, "workspace"),
        stateDir: join(paths.dir, "state"),
        proxySocketPath: join(paths.proxyDir, "model.sock"),
        resources,
        ...(environments && paths.egressDir ? { egress: { socketPath: join(paths.egressDir, "egress.sock"), env: environments.toolEnv } } : {}),
      });
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, slotID: paths.id }, "pool: could not start a worker");
      return undefined;
    }
  }

  /** An untaken slot goes: its worker, its disk and its directories. */
  private async remove(slot: PoolSlot): Promise<void> {
    try {
      await slot.release();
      await unmountTaskDisk(slot.dir, true);
      await rm(slot.dir, { recursive: true, force: true });
      await removeSocketDirs(slot);
    } catch (err) {
      this.opts.logger.warn({ err, slotID: slot.id }, "pool: could not remove a slot");
    }
  }

  /** Compares the image the tag names now with the last one seen; on a change the waiting workers are made again. */
  private async checkImage(): Promise<string | undefined> {
    const now = await this.opts.sandbox.imageID().catch(() => undefined);
    if (now === undefined || this.stopped) return now;
    const before = this.imageID;
    this.imageID = now;
    const stale = [...this.slots].filter(([, e]) => e.worker && e.worker.imageID !== now);
    if (stale.length === 0) return now;
    this.opts.logger.info({ before, now, replaced: stale.length }, "pool: the worker image changed; replacing waiting workers");
    for (const [id, entry] of stale) {
      this.slots.delete(id);
      void this.remove(entry.slot);
    }
    this.fill();
    return now;
  }

  /** After a slot that could not be made: the next fill waits, longer each time in a row. */
  private backOff(): void {
    this.failures += 1;
    const ms = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.fill();
    }, ms);
    this.retry.unref();
  }
}
