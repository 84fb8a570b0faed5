/**
 * `POST /v1/import`: one task's export (NDJSON, `ExportLine`) written back into this edge,
 * keeping its id, every `seq` and every timestamp. The lines must be a whole export: the
 * task first, its events from `seq` 1 with no gap up to the record's `lastSeq`, its
 * artifacts, and `end` with matching counts; anything else is refused and nothing shows.
 * A task that already exists is a 409 unless `replace` (then, once the export has come in
 * whole, its data is deleted as by `DELETE /v1/tasks/:id` and the import takes its place). A record that is not terminal imports as `lost` (see archive.ts
 * in the TaskRoom). The artifacts' bytes follow with `PUT /v1/tasks/:id/artifacts/:name`,
 * which takes only what the export listed, with the listed size and SHA-256.
 */
import {
  ErrorCode,
  ExportLine,
  LIMITS,
  describeIssues,
  type ArtifactEntry,
  type ImportResult,
  type Task,
} from "../../shared/index.ts";
import { readLines } from "../../shared/client/ndjson.ts";
import { accountStub, roomStub } from "../app-env.ts";
import { isTaskID } from "../auth/index.ts";
import { fail, failWith } from "../http-error.ts";
import { ArtifactName, artifactPrefix } from "./artifact-names.ts";
import { listArtifacts } from "./artifact-store.ts";

/** The bound of an import body (the platform's request bodies end at 100 MB). */
export const MAX_IMPORT_BYTES = 100 * 1000 * 1000;
/** One line: a task record with a 100 000-character prompt, or an event with 64 KiB of data. */
const MAX_LINE_BYTES = 1024 * 1024;
/** Events handed to the room per call. */
const EVENTS_PER_CALL = 500;

export async function importTask(env: Env, accountID: string, body: ReadableStream<Uint8Array>, replace: boolean): Promise<ImportResult> {
  const lines = parsedLines(body);
  const first = await lines.next();
  if (first.done || first.value.kind !== "task") throw fail(ErrorCode.InvalidBody, "an export starts with its task line");
  const task: Task = first.value.task;
  if (!isTaskID(task.id)) throw fail(ErrorCode.InvalidBody, `${task.id} is not a task id this edge makes`);
  const room = roomStub(env, task.id);
  const started = await room.importStart(accountID, task.id, replace);
  if ("error" in started) throw failWith(started);
  const artifacts: ArtifactEntry[] = [];
  let batch: { seq: number; ts: string; type: string; dataJSON: string }[] = [];
  let events = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const refused = await room.importEvents(started.token, batch);
    if (refused) throw failWith(refused);
    batch = [];
  };
  let end: Extract<ExportLine, { kind: "end" }> | null = null;
  for await (const line of lines) {
    if (end) throw fail(ErrorCode.InvalidBody, "a line follows the end line (import one task at a time)");
    if (line.kind === "task") throw fail(ErrorCode.InvalidBody, "a second task line (import one task at a time)");
    if (line.kind === "event") {
      if (artifacts.length > 0) throw fail(ErrorCode.InvalidBody, "events come before artifacts");
      const dataJSON = JSON.stringify(line.event.data);
      if (dataJSON.length > LIMITS.maxEventDataBytes) throw fail(ErrorCode.PayloadTooLarge, `event ${line.event.seq}'s data is over ${LIMITS.maxEventDataBytes} bytes`);
      batch.push({ seq: line.event.seq, ts: line.event.ts, type: line.event.type, dataJSON });
      events += 1;
      if (batch.length >= EVENTS_PER_CALL) await flush();
    } else if (line.kind === "artifact") {
      if (!ArtifactName.safeParse(line.artifact.name).success) throw fail(ErrorCode.InvalidBody, `${line.artifact.name} is not an artifact name`);
      if (line.artifact.size > LIMITS.maxArtifactBytes) throw fail(ErrorCode.PayloadTooLarge, `artifact ${line.artifact.name} is over ${LIMITS.maxArtifactBytes} bytes`);
      artifacts.push(line.artifact);
    } else {
      end = line;
    }
  }
  await flush();
  if (!end) throw fail(ErrorCode.InvalidBody, "the export has no end line: it was cut short");
  if (end.taskID !== task.id || end.events !== events || end.artifacts !== artifacts.length) {
    throw fail(ErrorCode.InvalidBody, `the end line counts ${end.events} events and ${end.artifacts} artifacts; the export holds ${events} and ${artifacts.length}`);
  }
  const finished = await room.importFinish(started.token, task, artifacts);
  if ("error" in finished) throw failWith(finished);
  await accountStub(env, accountID).indexImported(accountID, finished);
  const present = new Set((await listArtifacts(env.ARTIFACTS, artifactPrefix(accountID, task.id))).map((a) => `${a.name} ${a.sha256}`));
  return { task: finished, missingArtifacts: artifacts.filter((a) => !present.has(`${a.name} ${a.sha256}`)).map((a) => a.name) };
}

/** The body's lines, each parsed as an `ExportLine`; a bad one is a 400 naming its number. */
async function* parsedLines(body: ReadableStream<Uint8Array>): AsyncGenerator<ExportLine> {
  let n = 0;
  try {
    for await (const text of readLines(body, MAX_LINE_BYTES, MAX_IMPORT_BYTES)) {
      n += 1;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw fail(ErrorCode.InvalidBody, `line ${n} is not JSON`);
      }
      const parsed = ExportLine.safeParse(json);
      if (!parsed.success) throw fail(ErrorCode.InvalidBody, `line ${n}: ${describeIssues(parsed.error)}`);
      yield parsed.data;
    }
  } catch (err) {
    if (err instanceof Error && err.name === "TetherError") throw fail(ErrorCode.PayloadTooLarge, err.message);
    throw err;
  }
}
