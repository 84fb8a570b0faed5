/**
 * The image a task's containers run (internal to task/): the worker image, unless the task's
 * environment names another. Another image must be in the runner's `allowedImages` (the
 * worker image always is) and pass the sandbox's check that it can run the agent; otherwise
 * the task fails before anything runs, with the reason (a check that cannot be made, say
 * the engine failing, fails it too). References compare with `:latest` added to one that
 * names no tag or digest.
 */
import type { Result, Sandbox } from "../ports.ts";
import type { TaskRecord } from "./task-record.ts";

/** The runner's images: its worker image and the others environments may name. */
export interface ImagePolicy {
  workerImage: string;
  allowed: readonly string[];
}

/** `name` → `name:latest`; a reference with a tag or a digest stays as it is. */
export function normalizeImage(ref: string): string {
  const lastPart = ref.slice(ref.lastIndexOf("/") + 1);
  return lastPart.includes(":") || lastPart.includes("@") ? ref : `${ref}:latest`;
}

/** The other image the task runs in, or undefined for the worker image. */
export function taskImageOf(record: TaskRecord, policy: ImagePolicy | undefined): string | undefined {
  const image = record.task.environment?.image;
  if (!image || (policy && normalizeImage(image) === normalizeImage(policy.workerImage))) return undefined;
  return image;
}

/** Whether the task may run in the image its environment names: allowed, then checked by the sandbox. */
export async function checkTaskImage(sandbox: Sandbox, policy: ImagePolicy | undefined, record: TaskRecord): Promise<Result<void>> {
  const image = taskImageOf(record, policy);
  if (image === undefined) return { ok: true, value: undefined };
  const allowed = (policy?.allowed ?? []).map(normalizeImage);
  if (!allowed.includes(normalizeImage(image))) {
    const list = allowed.length > 0 ? `it allows ${allowed.join(", ")} besides its worker image` : "it allows no image besides its worker image";
    return { ok: false, error: `the environment's image ${image} is not allowed on this runner (allowedImages): ${list}` };
  }
  let checked: Result<void>;
  try {
    checked = await sandbox.checkImage(image);
  } catch (err) {
    return { ok: false, error: `the environment's image ${image} could not be checked: ${(err as Error).message}` };
  }
  return checked.ok ? checked : { ok: false, error: `the environment's image ${image} cannot run the agent: ${checked.error}` };
}
