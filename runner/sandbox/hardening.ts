/**
 * The hardening every container the runner makes gets, whatever its image (internal to
 * sandbox/): no network (`none` unless the operator chose `host`), every capability dropped,
 * `no-new-privileges`, memory with swap equal (so not doubled), CPU and pids limits, docker-init
 * as PID 1, a read-only root with a tmpfs /tmp, bounded json logs, never auto-removed. The
 * worker's, the setup's and the image check's containers all take their HostConfig from here.
 */
import type Docker from "dockerode";
import type { SandboxResources } from "../ports.ts";

export interface Hardening {
  network: "none" | "host";
  readonlyRootfs: boolean;
}

export function hardenedHostConfig(hardening: Hardening, resources: SandboxResources, binds: string[]): Docker.HostConfig {
  const { memoryMB, cpus, pids } = resources;
  return {
    NetworkMode: hardening.network,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    Memory: memoryMB * 1024 * 1024,
    MemorySwap: memoryMB * 1024 * 1024,
    NanoCpus: Math.round(cpus * 1e9),
    PidsLimit: pids,
    Init: true,
    AutoRemove: false,
    ReadonlyRootfs: hardening.readonlyRootfs,
    Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${Math.max(64, Math.floor(memoryMB / 2))}m` },
    LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } },
    Binds: binds,
  };
}
