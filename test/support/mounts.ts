/**
 * What a stopped or killed runner leaves mounted: its tasks' loop-mounted disks stay mounted
 * across a restart by design, so a test that ends with a task held unmounts them itself (each
 * holds a loop device, and a host has few).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Unmounts everything mounted under `dir`, so the directory can go. */
export function unmountUnder(dir: string): void {
  const mounted = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1])
    .filter((path): path is string => path !== undefined && path.startsWith(`${dir}/`));
  for (const path of mounted) spawnSync("umount", ["--lazy", path]);
}

/** Whether `dir` is a mount point. */
export function isMountpoint(dir: string): boolean {
  return spawnSync("mountpoint", ["-q", dir]).status === 0;
}
