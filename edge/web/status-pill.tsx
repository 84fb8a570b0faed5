/** A task's status as a coloured pill (colour is never the only sign: the word is there). */
import type { TaskStatus } from "../../shared/task.ts";
import { STATUS_LABEL } from "./format.tsx";

export function StatusPill({ status }: { status: TaskStatus }) {
  return (
    <span class={`pill pill-${status}`} data-status={status}>
      {STATUS_LABEL[status]}
    </span>
  );
}
