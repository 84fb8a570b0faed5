/**
 * How the Account chooses a runner for a queued task (internal to edge/account/).
 */

export type Candidate = { id: string; labels: string[]; capacity: number; load: number };

/**
 * The runner for a task: one whose labels include all of the task's and that has a free
 * slot; the least loaded, then the first registered. `avoid` (the runner that just
 * rejected the task) is chosen only when nothing else fits.
 */
export function pickRunner(taskLabels: readonly string[], candidates: readonly Candidate[], avoid: string | null): Candidate | null {
  const fitting = candidates.filter((c) => c.load < c.capacity && taskLabels.every((l) => c.labels.includes(l)));
  const preferred = fitting.filter((c) => c.id !== avoid);
  const pool = preferred.length > 0 ? preferred : fitting;
  let best: Candidate | null = null;
  for (const c of pool) {
    if (best === null || c.load < best.load) best = c;
  }
  return best;
}
