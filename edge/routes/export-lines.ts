/**
 * Exports as NDJSON lines (`ExportLine`, `AccountExportLine` in shared/api.ts), produced as
 * the response streams. A task's lines come from its room, which owns the record and the log:
 * the record first, then the events up to the record's `lastSeq` a page at a time (a running
 * task's export is the log as it stood when the record was read), then the artifacts with
 * their SHA-256, then `end`. An account's export takes a page of tasks, newest first, each
 * followed by a `cursor` line to resume after it.
 */
import { EXPORT_FORMAT, LIMITS, type AccountExportLine, type ExportLine, type Task } from "../../shared/index.ts";
import { accountStub, roomStub } from "../app-env.ts";
import { encodeCursor } from "../account/index.ts";
import { artifactPrefix } from "./artifact-names.ts";
import { listArtifacts } from "./artifact-store.ts";

/** The lines of one task whose record `task` was just read from its room. */
export async function* taskExportLines(env: Env, accountID: string, task: Task): AsyncGenerator<string> {
  yield line({ kind: "task", format: EXPORT_FORMAT, task });
  const room = roomStub(env, task.id);
  let after = 0;
  while (after < task.lastSeq) {
    const page = await room.exportEvents(accountID, after, task.lastSeq, LIMITS.maxEventsPage);
    if (page === null) throw new Error(`task ${task.id} was deleted during its export`);
    if (page.length === 0) throw new Error(`task ${task.id}'s log ends at ${after}, before its lastSeq ${task.lastSeq}`);
    // The stored text is an `Event` already; it is wrapped, not parsed again.
    for (const event of page) yield `{"kind":"event","event":${event.json}}`;
    after = page.at(-1)!.seq;
  }
  const artifacts = await listArtifacts(env.ARTIFACTS, artifactPrefix(accountID, task.id));
  for (const artifact of artifacts) yield line({ kind: "artifact", artifact });
  yield line({ kind: "end", taskID: task.id, events: task.lastSeq, artifacts: artifacts.length });
}

/** The lines of a page of the account's tasks after `cursor`, and last the next page's cursor. */
export async function* accountExportLines(env: Env, accountID: string, cursor: { createdAt: string; id: string } | undefined, limit: number): AsyncGenerator<string> {
  const page = await accountStub(env, accountID).listTasks({ limit, cursor });
  for (const listed of page.tasks) {
    const task = await roomStub(env, listed.id).getTask(accountID);
    // A task deleted since the page was read is left out.
    if (task) yield* taskExportLines(env, accountID, task);
    yield line({ kind: "cursor", cursor: encodeCursor({ createdAt: listed.createdAt, id: listed.id }) });
  }
  yield line({ kind: "page", nextCursor: page.nextCursor });
}

/** A streamed NDJSON response of `lines`; a failure midway cuts the stream (no `end` line). */
export function ndjsonResponse(lines: AsyncGenerator<string>, filename: string): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await lines.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(`${next.value}\n`));
      } catch (err) {
        console.error({ msg: "export failed midway", filename, err: String(err) });
        controller.error(err);
      }
    },
    async cancel() {
      await lines.return(undefined);
    },
  });
  return new Response(stream, {
    headers: { "content-type": "application/x-ndjson; charset=utf-8", "content-disposition": `attachment; filename="${filename}"` },
  });
}

function line(value: ExportLine | AccountExportLine): string {
  return JSON.stringify(value);
}
