/** Internal: builders of protocol values for the runner's unit tests. */
import type { Assignment } from "../shared/protocol.ts";
import { EMPTY_USAGE } from "../shared/task.ts";

export function assignmentOf(taskID: string, epoch = 1, overrides: Partial<Assignment["task"]> = {}): Assignment {
  const now = "2026-01-01T00:00:00.000Z";
  return {
    epoch,
    leaseSeconds: 120,
    task: {
      id: taskID,
      title: "fix it",
      repo: { url: "https://example.invalid/repo.git" },
      prompt: "fix it",
      model: null,
      labels: [],
      limits: {},
      status: "assigned",
      statusReason: null,
      createdBy: "u1",
      createdAt: now,
      updatedAt: now,
      runnerID: "r1",
      lastSeq: 2,
      usage: EMPTY_USAGE,
      diff: null,
      branch: null,
      ...overrides,
    },
  };
}
