/**
 * `npm run import -- --edge URL --in DIR [--replace] [--token T]`: writes every task folder
 * of an export (`data-folder.ts`) into an edge through its API (`POST /v1/import`, then each
 * artifact the edge still waits for), keeping task ids, `seq`s and timestamps. A task the
 * edge already has is skipped with a note unless `--replace`. Exits 1 when any task failed.
 */
import { basename, resolve } from "node:path";
import { Command } from "commander";
import { TetherClient, TetherError } from "../shared/client/index.ts";
import { connectionOptions, readTaskFolder, taskFolders } from "./data-folder.ts";

export type ImportOptions = { edge: string; token: string; in: string; replace?: boolean; log?: (line: string) => void };
export type ImportReport = { imported: string[]; skipped: string[]; failed: string[] };

export async function importFromFolder(o: ImportOptions): Promise<ImportReport> {
  const client = new TetherClient({ baseURL: o.edge, token: o.token });
  const log = o.log ?? (() => undefined);
  const report: ImportReport = { imported: [], skipped: [], failed: [] };
  for (const folder of taskFolders(o.in)) {
    const name = basename(folder);
    try {
      const { lines, bytes } = readTaskFolder(folder);
      const result = await client.importTask(lines, { replace: o.replace });
      for (const artifact of result.missingArtifacts) await client.uploadImportedArtifact(result.task.id, artifact, bytes(artifact));
      report.imported.push(result.task.id);
      log(`${result.task.id}: imported (${result.task.status}, ${result.task.lastSeq} events, ${result.missingArtifacts.length} artifacts uploaded)`);
    } catch (err) {
      if (err instanceof TetherError && err.status === 409) {
        report.skipped.push(name);
        log(`${name}: the edge already has this task (--replace replaces it)`);
      } else {
        report.failed.push(name);
        log(`${name}: failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  return report;
}

async function main(): Promise<void> {
  const program = new Command("import").description("Import an export folder into an edge");
  for (const option of connectionOptions()) program.addOption(option);
  program.requiredOption("--in <dir>", "the folder `npm run export` wrote").option("--replace", "replace tasks the edge already has").parse();
  const o = program.opts<{ edge: string; token: string; in: string; replace?: boolean }>();
  const report = await importFromFolder({ ...o, log: (line) => console.log(line) });
  console.log(`imported ${report.imported.length}, skipped ${report.skipped.length}, failed ${report.failed.length}`);
  if (report.failed.length > 0) process.exit(1);
}

const invoked = process.argv[1] ? resolve(process.argv[1]) : "";
if (invoked.endsWith("scripts/import.ts")) {
  main().catch((err: unknown) => {
    console.error(`import failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
