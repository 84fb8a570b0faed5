/**
 * The folder `npm run export` writes and `npm run import` reads: one folder per task, for a
 * person to read and keep.
 *
 *   DIR/<taskID>/task.json         the task record (pretty JSON)
 *   DIR/<taskID>/events.ndjson     its events, one a line, in `seq` order
 *   DIR/<taskID>/artifacts.json    its artifacts: name, size, SHA-256, media type
 *   DIR/<taskID>/artifacts/<name>  each artifact's bytes
 *   DIR/export-state.json          how far an account export got (its cursor), to resume
 *
 * A task's folder is written under `<taskID>.partial` and renamed when whole, so a folder
 * named by a task id is always complete. Also the options both scripts take.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Option } from "commander";
import { ArtifactEntry, EXPORT_FORMAT, Event, Task, type ExportLine } from "../shared/index.ts";

export const STATE_FILE = "export-state.json";

export type ExportState = { edge: string; cursor: string | null; done: boolean };

/** `--edge URL` and `--token` (else TETHER_TOKEN). */
export function connectionOptions(): Option[] {
  return [
    new Option("--edge <url>", "the edge, e.g. http://127.0.0.1:8787").makeOptionMandatory(),
    new Option("--token <token>", "a user token (default: TETHER_TOKEN)").env("TETHER_TOKEN").makeOptionMandatory(),
  ];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** One task's folder as it is written, line by line from an export. */
export class TaskFolderWriter {
  private readonly partial: string;
  private readonly events: string[] = [];
  private readonly artifacts: ArtifactEntry[] = [];

  constructor(
    private readonly dir: string,
    private readonly task: Task,
  ) {
    this.partial = join(dir, `${task.id}.partial`);
    rmSync(this.partial, { recursive: true, force: true });
    mkdirSync(join(this.partial, "artifacts"), { recursive: true });
  }

  addEvent(event: Event): void {
    this.events.push(JSON.stringify(event));
  }

  /** Keeps an artifact's bytes, after checking them against what the export lists. */
  addArtifact(entry: ArtifactEntry, bytes: Uint8Array): void {
    if (bytes.byteLength !== entry.size || sha256Hex(bytes) !== entry.sha256) {
      throw new Error(`artifact ${entry.name} of task ${this.task.id} does not match its export (size or SHA-256)`);
    }
    writeFileSync(join(this.partial, "artifacts", entry.name), bytes);
    this.artifacts.push(entry);
  }

  /** Checks the end line's counts, writes the rest and renames the folder to the task's id. */
  finish(end: Extract<ExportLine, { kind: "end" }>): void {
    if (end.taskID !== this.task.id || end.events !== this.events.length || end.artifacts !== this.artifacts.length) {
      throw new Error(`task ${this.task.id}'s export does not add up: end says ${end.events} events and ${end.artifacts} artifacts`);
    }
    writeFileSync(join(this.partial, "task.json"), `${JSON.stringify(this.task, null, 2)}\n`);
    writeFileSync(join(this.partial, "events.ndjson"), this.events.map((e) => `${e}\n`).join(""));
    writeFileSync(join(this.partial, "artifacts.json"), `${JSON.stringify(this.artifacts, null, 2)}\n`);
    const final = join(this.dir, this.task.id);
    rmSync(final, { recursive: true, force: true });
    renameSync(this.partial, final);
  }
}

/** The task folders under `dir` (complete ones: a partial folder is skipped). */
export function taskFolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.endsWith(".partial") && existsSync(join(dir, d.name, "task.json")))
    .map((d) => join(dir, d.name))
    .sort();
}

/** A task folder read back as the lines of its export, and its artifacts' bytes by name. */
export function readTaskFolder(folder: string): { lines: ExportLine[]; bytes: (name: string) => Uint8Array } {
  const task = Task.parse(JSON.parse(readFileSync(join(folder, "task.json"), "utf8")));
  const events = readFileSync(join(folder, "events.ndjson"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => Event.parse(JSON.parse(l)));
  const artifactsFile = join(folder, "artifacts.json");
  const artifacts = existsSync(artifactsFile) ? ArtifactEntry.array().parse(JSON.parse(readFileSync(artifactsFile, "utf8"))) : [];
  const lines: ExportLine[] = [
    { kind: "task", format: EXPORT_FORMAT, task },
    ...events.map((event) => ({ kind: "event" as const, event })),
    ...artifacts.map((artifact) => ({ kind: "artifact" as const, artifact })),
    { kind: "end", taskID: task.id, events: events.length, artifacts: artifacts.length },
  ];
  return { lines, bytes: (name) => new Uint8Array(readFileSync(join(folder, "artifacts", name))) };
}

export function readState(dir: string): ExportState | null {
  const file = join(dir, STATE_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as ExportState) : null;
}

export function writeState(dir: string, state: ExportState): void {
  writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}
