/**
 * `npm run export -- --edge URL --out DIR [--task ID] [--token T]`: writes the account's
 * tasks (or one) into DIR, one folder per task (`data-folder.ts`), artifacts downloaded and
 * checked against their SHA-256. An account export resumes where a stopped one left off
 * (DIR/export-state.json holds the cursor of the last whole task); `--restart` starts over.
 * Uses the client SDK; the token comes from `--token` or TETHER_TOKEN.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { TetherClient, type AccountExportLine } from "../shared/client/index.ts";
import { TaskFolderWriter, connectionOptions, readState, writeState } from "./data-folder.ts";

/** Pages of tasks one export asks for at most (20 tasks each). */
const MAX_PAGES = 100_000;

export type ExportOptions = { edge: string; token: string; out: string; task?: string; restart?: boolean; log?: (line: string) => void };

/** Writes the export; returns the ids of the tasks written. */
export async function exportToFolder(o: ExportOptions): Promise<string[]> {
  const client = new TetherClient({ baseURL: o.edge, token: o.token });
  const log = o.log ?? (() => undefined);
  mkdirSync(o.out, { recursive: true });
  if (o.task) return writeLines(client, o.out, client.exportTask(o.task), () => undefined, log);
  const previous = o.restart ? null : readState(o.out);
  if (previous?.done && previous.edge === o.edge) {
    log("this folder holds a finished export of this edge; --restart exports again");
    return [];
  }
  let cursor = previous?.edge === o.edge ? previous.cursor : null;
  const written: string[] = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    let next: string | null = null;
    const onControl = (line: AccountExportLine) => {
      if (line.kind === "cursor") writeState(o.out, { edge: o.edge, cursor: (cursor = line.cursor), done: false });
      if (line.kind === "page") next = line.nextCursor;
    };
    written.push(...(await writeLines(client, o.out, client.exportAccount(cursor ? { cursor } : {}), onControl, log)));
    if (next === null) {
      writeState(o.out, { edge: o.edge, cursor, done: true });
      return written;
    }
    cursor = next;
  }
  throw new Error(`stopped after ${MAX_PAGES} pages`);
}

async function writeLines(
  client: TetherClient,
  out: string,
  lines: AsyncGenerator<AccountExportLine>,
  onControl: (line: AccountExportLine) => void,
  log: (line: string) => void,
): Promise<string[]> {
  const written: string[] = [];
  let folder: TaskFolderWriter | null = null;
  let taskID = "";
  for await (const line of lines) {
    switch (line.kind) {
      case "task":
        folder = new TaskFolderWriter(out, line.task);
        taskID = line.task.id;
        break;
      case "event":
        folder!.addEvent(line.event);
        break;
      case "artifact":
        folder!.addArtifact(line.artifact, (await client.downloadArtifact(taskID, line.artifact.name)).bytes);
        break;
      case "end":
        folder!.finish(line);
        written.push(taskID);
        log(`${taskID}: ${line.events} events, ${line.artifacts} artifacts`);
        folder = null;
        break;
      default:
        onControl(line);
    }
  }
  if (folder) throw new Error(`the export of ${taskID} was cut short; run the export again`);
  return written;
}

async function main(): Promise<void> {
  const program = new Command("export").description("Export an edge's tasks into a folder you can read and keep");
  for (const option of connectionOptions()) program.addOption(option);
  program
    .requiredOption("--out <dir>", "the folder to write")
    .option("--task <id>", "only this task", (v) => {
      if (!/^[\w-]{1,64}$/.test(v)) throw new InvalidArgumentError("a task id");
      return v;
    })
    .option("--restart", "ignore a previous export's progress in this folder")
    .parse();
  const o = program.opts<{ edge: string; token: string; out: string; task?: string; restart?: boolean }>();
  const written = await exportToFolder({ ...o, log: (line) => console.log(line) });
  console.log(`exported ${written.length} task(s) into ${o.out}`);
}

const invoked = process.argv[1] ? resolve(process.argv[1]) : "";
if (invoked.endsWith("scripts/export.ts")) {
  main().catch((err: unknown) => {
    console.error(`export failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
