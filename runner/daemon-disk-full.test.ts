/**
 * The runner's journal on a disk that fills up (a real 4 MB tmpfs as the daemon's home; the
 * runner's tests run as root): the daemon keeps running, takes no new task and tells the edge
 * why, holds what its task writes, and sends all of it, once and in order, when there is room.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunnerEvent } from "../shared/protocol.ts";
import { assign, daemon, edge, forgetDaemon, home, sandbox, started, types, useDaemonHarness } from "./testing/daemon-harness.ts";

useDaemonHarness();

/** Writes zeros into `path` until the file system says ENOSPC. */
function fill(path: string): void {
  const fd = openSync(path, "w");
  try {
    for (const size of [1 << 16, 4096, 512]) {
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < (8 << 20) / size; i++) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe("a full journal disk", () => {
  it("stops the runner taking tasks and says why, holds the task's output, and sends every event once, in order, when there is room", async () => {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tether-test-journal", home]);
    const d = daemon({ spaceRetryMs: 20 });
    try {
      await started(d);
      assign("t1");
      await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker start");
      const w = sandbox.worker("t1")!;
      w.emit("agent.text", { turn: 0, text: "before" });
      await edge.until(() => types("t1").includes("agent.text"), 5000, "the first event");

      fill(join(home, "filler"));
      for (let i = 1; i <= 30; i++) w.emit("agent.text.delta", { turn: 0, text: `d${i}` });
      await edge.until(() => edge.framesOf("hello").some((h) => typeof h.draining === "string"), 5000, "a hello that says why");
      expect(edge.framesOf("hello").at(-1)).toMatchObject({ capacity: 2, tasks: [{ taskID: "t1", epoch: 1 }], draining: "the journal's disk is full (SQLITE_FULL)" });
      assign("t2");
      await edge.until(() => edge.framesOf("reject").length > 0, 5000, "the reject of a new task");
      expect(edge.framesOf("reject")).toEqual([{ type: "reject", taskID: "t2", epoch: 1, reason: "the journal's disk is full (SQLITE_FULL)" }]);
      expect(sandbox.worker("t2")).toBeUndefined();
      expect(d.space.isFull).toBe(true);

      rmSync(join(home, "filler"));
      const deltas = () => edge.task("t1").events.filter((e) => e.type === "agent.text.delta").map((e) => (e as RunnerEvent & { data: { text: string } }).data.text);
      await edge.until(() => deltas().length === 30, 10_000, "every delta after the disk has room");
      expect(deltas()).toEqual(Array.from({ length: 30 }, (_, i) => `d${i + 1}`));
      const rseqs = edge.task("t1").events.map((e) => e.rseq);
      expect(rseqs).toEqual(Array.from({ length: rseqs.length }, (_, i) => i + 1));
      await edge.until(() => !d.space.isFull && edge.framesOf("hello").at(-1)!.draining === undefined, 5000, "a hello that takes tasks again");

      w.emit("done", { ok: true, summary: "did it" });
      await edge.until(() => types("t1").includes("status:succeeded") && d.tasks.size === 0, 5000, "succeeded and cleaned up");
      assign("t3");
      await edge.until(() => sandbox.worker("t3") !== undefined, 5000, "a new task taken");
    } finally {
      await d.stop();
      forgetDaemon(d);
      execFileSync("umount", [home]);
    }
  });
});
