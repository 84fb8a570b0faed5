/**
 * Parses a unified diff as `git diff` writes it (the `diff.patch` artifact) into files,
 * hunks and numbered lines, for a per-file diff view.
 */

export type DiffLine =
  | { kind: "add"; text: string; newNo: number }
  | { kind: "del"; text: string; oldNo: number }
  | { kind: "context"; text: string; oldNo: number; newNo: number }
  /** "\ No newline at end of file" and the like. */
  | { kind: "note"; text: string };

export interface DiffHunk {
  header: string;
  lines: DiffLine[];
}

export interface DiffFile {
  oldPath: string | null;
  newPath: string | null;
  /** The path to show: the new one, or the old one for a deleted file. */
  path: string;
  change: "added" | "deleted" | "modified" | "renamed";
  binary: boolean;
  additions: number;
  deletions: number;
  hunks: DiffHunk[];
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

export function parseDiff(patch: string): DiffFile[] {
  const files: DiffFile[] = [];
  let file: DiffFile | null = null;
  let hunk: DiffHunk | null = null;
  let oldNo = 0;
  let newNo = 0;
  // Lines still due in the current hunk, from its header: they decide what a line is.
  let oldLeft = 0;
  let newLeft = 0;
  const lines = patch.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();

  const startFile = (oldPath: string | null, newPath: string | null): DiffFile => {
    const f: DiffFile = { oldPath, newPath, path: newPath ?? oldPath ?? "", change: "modified", binary: false, additions: 0, deletions: 0, hunks: [] };
    files.push(f);
    hunk = null;
    return f;
  };

  for (const line of lines) {
    if (line.startsWith("diff --git ")) {
      const paths = /^diff --git a\/(.+) b\/(.+)$/.exec(line);
      file = startFile(paths?.[1] ?? null, paths?.[2] ?? null);
      continue;
    }
    if (hunk && file) {
      const h: DiffHunk = hunk;
      if (line.startsWith("\\")) {
        h.lines.push({ kind: "note", text: line.slice(1).trim() });
        continue;
      }
      if (newLeft > 0 && line.startsWith("+")) {
        h.lines.push({ kind: "add", text: line.slice(1), newNo: newNo++ });
        newLeft--;
        file.additions++;
        continue;
      }
      if (oldLeft > 0 && line.startsWith("-")) {
        h.lines.push({ kind: "del", text: line.slice(1), oldNo: oldNo++ });
        oldLeft--;
        file.deletions++;
        continue;
      }
      if (oldLeft > 0 && newLeft > 0 && (line.startsWith(" ") || line === "")) {
        h.lines.push({ kind: "context", text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
        oldLeft--;
        newLeft--;
        continue;
      }
    }
    const range = HUNK.exec(line);
    if (range) {
      file ??= startFile(null, null);
      oldNo = Number(range[1]);
      oldLeft = range[2] === undefined ? 1 : Number(range[2]);
      newNo = Number(range[3]);
      newLeft = range[4] === undefined ? 1 : Number(range[4]);
      hunk = { header: line, lines: [] };
      file.hunks.push(hunk);
      continue;
    }
    if (line.startsWith("--- ")) {
      const path = stripPrefix(line.slice(4));
      if (!file || file.hunks.length > 0) file = startFile(path, null);
      else file.oldPath = path;
      if (path === null) file.change = "added";
      continue;
    }
    if (line.startsWith("+++ ") && file) {
      const path = stripPrefix(line.slice(4));
      file.newPath = path;
      if (path === null) file.change = "deleted";
      file.path = file.newPath ?? file.oldPath ?? file.path;
      continue;
    }
    if (!file) continue;
    if (line.startsWith("new file mode")) file.change = "added";
    else if (line.startsWith("deleted file mode")) {
      file.change = "deleted";
      file.path = file.oldPath ?? file.path;
    } else if (line.startsWith("rename from ")) {
      file.change = "renamed";
      file.oldPath = line.slice("rename from ".length);
    } else if (line.startsWith("rename to ")) {
      file.change = "renamed";
      file.newPath = line.slice("rename to ".length);
      file.path = file.newPath;
    } else if (line.startsWith("Binary files ") || line === "GIT binary patch") file.binary = true;
  }
  for (const f of files) {
    if (f.change === "deleted") f.newPath = null;
    if (f.change === "added") f.oldPath = null;
  }
  return files;
}

function stripPrefix(path: string): string | null {
  const clean = path.replace(/\t.*$/, "");
  if (clean === "/dev/null") return null;
  return clean.replace(/^[ab]\//, "");
}
