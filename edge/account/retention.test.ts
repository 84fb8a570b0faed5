import { describe, expect, it } from "vitest";
import { earliest, nextSweepAt, retentionCutoff } from "./retention.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-06-15T12:00:00.000Z");

describe("retention", () => {
  it("cuts off tasks that ended more than the kept days ago", () => {
    expect(retentionCutoff(NOW, 7)).toBe("2026-06-08T12:00:00.000Z");
  });

  it("sweeps next when the task that ended first falls due, at once if it is due already, never without a setting or an ended task", () => {
    expect(nextSweepAt(NOW, 7, "2026-06-14T12:00:00.000Z")).toBe(NOW + 6 * DAY);
    expect(nextSweepAt(NOW, 7, "2026-06-01T00:00:00.000Z")).toBe(NOW);
    expect(nextSweepAt(NOW, null, "2026-06-01T00:00:00.000Z")).toBeNull();
    expect(nextSweepAt(NOW, 7, null)).toBeNull();
    expect(nextSweepAt(NOW, 7, "not a time")).toBe(NOW);
  });

  it("sets the one alarm to the earlier of two times", () => {
    expect(earliest(null, null)).toBeNull();
    expect(earliest(5, null)).toBe(5);
    expect(earliest(null, 7)).toBe(7);
    expect(earliest(9, 7)).toBe(7);
  });
});
