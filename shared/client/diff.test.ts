import { describe, expect, it } from "vitest";
import { parseDiff } from "./diff.ts";

const PATCH = `diff --git a/src/math.ts b/src/math.ts
index 1111111..2222222 100644
--- a/src/math.ts
+++ b/src/math.ts
@@ -1,4 +1,4 @@
 export function add(a: number, b: number) {
-  return a - b;
+  return a + b;
 }
-- a line that starts with two dashes
@@ -10,2 +10,3 @@ export function mul
 const x = 1;
+const y = 2;
 const z = 3;
diff --git a/NEW.md b/NEW.md
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/NEW.md
@@ -0,0 +1,2 @@
+# New
+text
\\ No newline at end of file
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
diff --git a/a.txt b/b.txt
similarity index 100%
rename from a.txt
rename to b.txt
diff --git a/logo.png b/logo.png
Binary files a/logo.png and b/logo.png differ
`;

describe("parseDiff", () => {
  const files = parseDiff(PATCH);

  it("splits the patch per file with the kind of change", () => {
    expect(files.map((f) => [f.path, f.change, f.binary])).toEqual([
      ["src/math.ts", "modified", false],
      ["NEW.md", "added", false],
      ["old.txt", "deleted", false],
      ["b.txt", "renamed", false],
      ["logo.png", "modified", true],
    ]);
    expect(files[3]!.oldPath).toBe("a.txt");
  });

  it("numbers added, removed and context lines from the hunk headers", () => {
    const math = files[0]!;
    expect(math.hunks).toHaveLength(2);
    expect(math.additions).toBe(2);
    expect(math.deletions).toBe(2);
    expect(math.hunks[0]!.lines).toEqual([
      { kind: "context", text: "export function add(a: number, b: number) {", oldNo: 1, newNo: 1 },
      { kind: "del", text: "  return a - b;", oldNo: 2 },
      { kind: "add", text: "  return a + b;", newNo: 2 },
      { kind: "context", text: "}", oldNo: 3, newNo: 3 },
      { kind: "del", text: "- a line that starts with two dashes", oldNo: 4 },
    ]);
    expect(math.hunks[1]!.lines[1]).toEqual({ kind: "add", text: "const y = 2;", newNo: 11 });
  });

  it("keeps the no-newline note and counts a new file's lines", () => {
    const added = files[1]!;
    expect(added.additions).toBe(2);
    expect(added.oldPath).toBeNull();
    expect(added.hunks[0]!.lines.at(-1)).toEqual({ kind: "note", text: "No newline at end of file" });
    expect(files[2]!.deletions).toBe(1);
  });

  it("returns nothing for an empty patch", () => {
    expect(parseDiff("")).toEqual([]);
  });
});
