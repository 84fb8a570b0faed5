/**
 * A task's bounded filesystem (internal to task/): with `diskMB` set, the task's directory
 * (`<home>/tasks/<id>`: the workspace, its git directory and the saved conversation) is an
 * ext4 image of that size (`<home>/tasks/<id>.img`, sparse) mounted with `-o loop` over it.
 * The agent's writes past the bound fail with ENOSPC and the host's disk is untouched.
 * ext4 keeps 5% of its blocks for root: the worker (uid 1000) cannot use them, the runner's own
 * git (root) can, so the commit of a full workspace still has some room.
 *
 * Mounting needs root, loop devices and e2fsprogs (`canMountTaskDisks` tries it once at start;
 * the runner runs with no bound, saying why, when it cannot: a non-root runner, or a root one
 * in a container without CAP_SYS_ADMIN). `DiskWatch` tells the run when the space left to the
 * worker is under a megabyte, so the task ends with the reason rather than an agent that
 * flounders on ENOSPC.
 */
import { execFile } from "node:child_process";
import { mkdir, rm, statfs } from "node:fs/promises";
import { promisify } from "node:util";
import type { Result } from "../ports.ts";

const run = promisify(execFile);

/** The space left to the worker, under which its workspace counts as full. */
const FULL_BELOW_BYTES = 1024 * 1024;

export function diskImageOf(taskDir: string): string {
  return `${taskDir.replace(/\/+$/, "")}.img`;
}

/** Makes and mounts the task's image over `taskDir` (made empty if missing); already mounted is fine. */
export async function mountTaskDisk(taskDir: string, diskMB: number): Promise<Result> {
  if (await isMounted(taskDir)) return { ok: true, value: undefined };
  const image = diskImageOf(taskDir);
  try {
    await mkdir(taskDir, { recursive: true });
    await rm(image, { force: true });
    await run("truncate", ["-s", `${diskMB}M`, image]);
    await run("mkfs.ext4", ["-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", image]);
    await run("mount", ["-o", "loop,nosuid,nodev", image, taskDir]);
    return { ok: true, value: undefined };
  } catch (err) {
    await rm(image, { force: true });
    const e = err as { stderr?: string; message: string };
    return { ok: false, error: `the task's ${diskMB} MB disk could not be made: ${(e.stderr || e.message).trim().slice(0, 500)}` };
  }
}

/** Whether this process can make and mount a task disk: one tiny disk made, mounted and removed under `dir`. */
export async function canMountTaskDisks(dir: string): Promise<Result> {
  if (process.getuid?.() !== 0) return { ok: false, error: "a loop-mounted disk per task needs a runner running as root" };
  const probe = `${dir.replace(/\/+$/, "")}/.disk-probe-${process.pid}`;
  const mounted = await mountTaskDisk(probe, 1);
  await unmountTaskDisk(probe, true).catch(() => undefined);
  await rm(probe, { recursive: true, force: true });
  return mounted;
}

/** Unmounts the task's image if it is mounted; with `removeImage` the image goes too. */
export async function unmountTaskDisk(taskDir: string, removeImage: boolean): Promise<void> {
  if (await isMounted(taskDir)) await run("umount", ["--lazy", taskDir]);
  if (removeImage) await rm(diskImageOf(taskDir), { force: true });
}

/** The reason a task with a full disk fails with, when its disk is full. */
export async function fullDiskReason(taskDir: string, diskMB: number | undefined): Promise<string | undefined> {
  if (!diskMB) return undefined;
  const s = await statfs(taskDir).catch(() => undefined);
  return s && s.bavail * s.bsize < FULL_BELOW_BYTES ? fullReason(diskMB) : undefined;
}

function fullReason(diskMB: number): string {
  return `workspace is full (${diskMB} MB limit)`;
}

/** Looks at the task's disk every `everyMs` while armed and calls `full` once it is full. */
export class DiskWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly everyMs = 1000) {}

  arm(taskDir: string, diskMB: number, full: (reason: string) => void): void {
    this.clear();
    this.timer = setInterval(() => {
      void statfs(taskDir).then(
        (s) => {
          if (this.timer === undefined || s.bavail * s.bsize >= FULL_BELOW_BYTES) return;
          this.clear();
          full(fullReason(diskMB));
        },
        () => undefined,
      );
    }, this.everyMs);
    this.timer.unref();
  }

  clear(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

async function isMounted(dir: string): Promise<boolean> {
  try {
    await run("mountpoint", ["-q", dir]);
    return true;
  } catch {
    return false;
  }
}
