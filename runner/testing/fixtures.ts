/** Internal: builders of protocol values for the runner's unit tests. */
import type { Assignment } from "../../shared/protocol.ts";
import { LEASE_SECONDS } from "../../shared/sockets.ts";
import { newTaskRecord } from "../../shared/task.ts";

export function assignmentOf(taskID: string, epoch = 1, overrides: Partial<Assignment["task"]> = {}): Assignment {
  const task = newTaskRecord(taskID, { repo: { url: "https://example.invalid/repo.git" }, prompt: "fix it" }, "u1", "2026-01-01T00:00:00.000Z");
  return { epoch, leaseSeconds: LEASE_SECONDS, task: { ...task, status: "assigned", runnerID: "r1", lastSeq: 2, ...overrides } };
}
