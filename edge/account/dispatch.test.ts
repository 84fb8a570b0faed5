import { describe, expect, it } from "vitest";
import { type Candidate, pickRunner } from "./dispatch.ts";

const runner = (id: string, labels: string[], capacity: number, load: number): Candidate => ({ id, labels, capacity, load });

describe("pickRunner", () => {
  it("needs every task label and a free slot, and prefers the least loaded", () => {
    const rs = [runner("a", ["linux"], 2, 1), runner("b", ["linux", "gpu"], 2, 0), runner("c", ["linux", "gpu"], 1, 1)];
    expect(pickRunner(["gpu"], rs, null)?.id).toBe("b");
    expect(pickRunner([], rs, null)?.id).toBe("b");
    expect(pickRunner(["arm"], rs, null)).toBeNull();
    expect(pickRunner(["gpu"], [rs[2]!], null)).toBeNull();
  });

  it("avoids the runner that rejected the task unless nothing else fits", () => {
    const rs = [runner("a", [], 4, 0), runner("b", [], 4, 3)];
    expect(pickRunner([], rs, "a")?.id).toBe("b");
    expect(pickRunner([], [rs[0]!], "a")?.id).toBe("a");
  });
});
