/** The task's change (the `diff.patch` artifact), file by file, with added and removed lines. */
import { useEffect, useState } from "preact/hooks";
import { parseDiff, TetherError, type DiffFile, type DiffLine } from "../../shared/client/light.ts";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";

const LINES_SHOWN = 1500;

export function DiffView({ taskID, artifact, version }: { taskID: string; artifact: string; version: number }) {
  const { client } = useSession();
  const [files, setFiles] = useState<DiffFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);

  useEffect(() => {
    let stale = false;
    setError(null);
    client.getArtifact(taskID, artifact).then(
      (patch) => {
        if (stale) return;
        setFiles(parseDiff(patch));
        setMissing(false);
      },
      (err: unknown) => {
        if (stale) return;
        if (err instanceof TetherError && err.status === 404) setMissing(true);
        else setError(messageOf(err));
      },
    );
    return () => {
      stale = true;
    };
  }, [client, taskID, artifact, version]);

  if (error)
    return (
      <p class="banner error" role="alert">
        {error}
      </p>
    );
  if (missing) return <p class="muted center">No changes yet. The diff appears when the agent has finished a run.</p>;
  if (!files) return <p class="muted center">Loading the diff…</p>;
  if (files.length === 0) return <p class="muted center">The task changed no file.</p>;
  const adds = files.reduce((n, f) => n + f.additions, 0);
  const dels = files.reduce((n, f) => n + f.deletions, 0);
  return (
    <section class="diff" aria-label="Changes">
      <p class="diff-summary">
        {files.length} file{files.length === 1 ? "" : "s"} changed, <span class="add">+{adds}</span> <span class="del">−{dels}</span>
      </p>
      {files.map((file, i) => (
        <DiffFileView key={`${file.path}-${i}`} file={file} open={files.length <= 8} />
      ))}
    </section>
  );
}

function DiffFileView({ file, open }: { file: DiffFile; open: boolean }) {
  const [all, setAll] = useState(false);
  const lines = file.hunks.flatMap((h) => [{ kind: "hunk" as const, text: h.header }, ...h.lines]);
  const shown = all ? lines : lines.slice(0, LINES_SHOWN);
  return (
    <details class="diff-file" open={open}>
      <summary>
        <span class={`change change-${file.change}`}>{file.change}</span>
        <code class="diff-path">{file.change === "renamed" ? `${file.oldPath} → ${file.newPath}` : file.path}</code>
        <span class="diff-stat">
          <span class="add">+{file.additions}</span> <span class="del">−{file.deletions}</span>
        </span>
      </summary>
      {file.binary ? (
        <p class="muted">Binary file</p>
      ) : (
        <div class="diff-lines" role="table" tabIndex={0} aria-label={`Changes in ${file.path}`}>
          {shown.map((line, i) => (
            <Line key={i} line={line} />
          ))}
          {shown.length < lines.length && (
            <button type="button" class="button ghost wide" onClick={() => setAll(true)}>
              Show {lines.length - shown.length} more lines
            </button>
          )}
        </div>
      )}
    </details>
  );
}

function Line({ line }: { line: DiffLine | { kind: "hunk"; text: string } }) {
  const [oldNo, newNo, sign] =
    line.kind === "add" ? ["", line.newNo, "+"] : line.kind === "del" ? [line.oldNo, "", "−"] : line.kind === "context" ? [line.oldNo, line.newNo, " "] : ["", "", ""];
  return (
    <div class={`dl dl-${line.kind}`} role="row">
      <span class="ln" role="cell" aria-hidden="true">
        {oldNo}
      </span>
      <span class="ln" role="cell" aria-hidden="true">
        {newNo}
      </span>
      <span class="code" role="cell">
        <span class="sign" aria-label={line.kind === "add" ? "added" : line.kind === "del" ? "removed" : undefined}>
          {sign}
        </span>
        {line.text}
      </span>
    </div>
  );
}
