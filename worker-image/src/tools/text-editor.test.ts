import { readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestWorkspace, type TestWorkspace } from "./test-context.ts";
import { textEditorTool } from "./text-editor.ts";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeTestWorkspace();
  await writeFile(join(ws.root, "a.txt"), "one\ntwo\nthree\nfour\n");
});
afterEach(() => ws.cleanup());

const run = (input: Record<string, unknown>) => textEditorTool.run(input, ws.ctx());

describe("text editor tool", () => {
  it("views a file with line numbers, and a line range", async () => {
    expect((await run({ command: "view", path: "a.txt" })).content).toBe("     1\tone\n     2\ttwo\n     3\tthree\n     4\tfour\n     5\t");
    expect((await run({ command: "view", path: "a.txt", view_range: [2, 3] })).content).toBe("     2\ttwo\n     3\tthree");
    expect((await run({ command: "view", path: "a.txt", view_range: [3, -1] })).content).toContain("     4\tfour");
    await expect(run({ command: "view", path: "a.txt", view_range: [9, 10] })).rejects.toThrow(/outside the file/);
    await expect(run({ command: "view", path: "a.txt", view_range: [1] })).rejects.toThrow(/two integers/);
  });

  it("views a directory as a listing", async () => {
    await writeFile(join(ws.root, "b.txt"), "");
    const result = await run({ command: "view", path: "." });
    expect(result.content).toContain("a.txt\nb.txt");
  });

  it("refuses binary files", async () => {
    await writeFile(join(ws.root, "img.bin"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]));
    await writeFile(join(ws.root, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    await expect(run({ command: "view", path: "img.bin" })).rejects.toThrow(/binary file \(7 bytes\)/);
    await expect(run({ command: "view", path: "latin1.txt" })).rejects.toThrow(/binary/);
    await expect(run({ command: "str_replace", path: "img.bin", old_str: "P", new_str: "Q" })).rejects.toThrow(/binary/);
  });

  it("creates files (and parent directories) and reports the change", async () => {
    expect(await run({ command: "create", path: "src/new.ts", file_text: "export {};\n" })).toMatchObject({ ok: true });
    expect(await readFile(join(ws.root, "src/new.ts"), "utf8")).toBe("export {};\n");
    await run({ command: "create", path: "a.txt", file_text: "replaced" });
    expect(ws.events).toEqual([
      { type: "file.changed", data: { path: "src/new.ts", change: "created" } },
      { type: "file.changed", data: { path: "a.txt", change: "modified" } },
    ]);
  });

  it("replaces exactly one occurrence and refuses none or several", async () => {
    const result = await run({ command: "str_replace", path: "a.txt", old_str: "two", new_str: "TWO" });
    expect(result.content).toContain("     2\tTWO");
    expect(await readFile(join(ws.root, "a.txt"), "utf8")).toBe("one\nTWO\nthree\nfour\n");
    await expect(run({ command: "str_replace", path: "a.txt", old_str: "nine", new_str: "x" })).rejects.toThrow(/did not appear verbatim/);
    await writeFile(join(ws.root, "dup.txt"), "x\ny\nx\n");
    await expect(run({ command: "str_replace", path: "dup.txt", old_str: "x", new_str: "z" })).rejects.toThrow(/lines 1 and 3/);
    expect(await readFile(join(ws.root, "dup.txt"), "utf8")).toBe("x\ny\nx\n");
    expect(ws.events).toHaveLength(1);
  });

  it("inserts after a line, 0 meaning the top", async () => {
    await run({ command: "insert", path: "a.txt", insert_line: 0, insert_text: "zero" });
    await run({ command: "insert", path: "a.txt", insert_line: 2, insert_text: "one and a half" });
    expect(await readFile(join(ws.root, "a.txt"), "utf8")).toBe("zero\none\none and a half\ntwo\nthree\nfour\n");
    await expect(run({ command: "insert", path: "a.txt", insert_line: 99, insert_text: "x" })).rejects.toThrow(/insert_line/);
  });

  it("refuses every way out of the workspace", async () => {
    await writeFile(join(ws.outside, "secret"), "top secret");
    await symlink(join(ws.outside, "secret"), join(ws.root, "leak"));
    await symlink(ws.outside, join(ws.root, "door"));
    await expect(run({ command: "view", path: "../outside/secret" })).rejects.toThrow(/outside the workspace/);
    await expect(run({ command: "view", path: join(ws.outside, "secret") })).rejects.toThrow(/outside the workspace/);
    await expect(run({ command: "view", path: "leak" })).rejects.toThrow(/symlink/);
    await expect(run({ command: "create", path: "door/planted", file_text: "x" })).rejects.toThrow(/symlink/);
    await expect(run({ command: "create", path: "../planted", file_text: "x" })).rejects.toThrow(/outside/);
    await expect(run({ command: "str_replace", path: "leak", old_str: "top", new_str: "no" })).rejects.toThrow(/symlink/);
    expect(await readFile(join(ws.outside, "secret"), "utf8")).toBe("top secret");
  });

  it("refuses unknown commands and missing fields", async () => {
    await expect(run({ command: "undo_edit", path: "a.txt" })).rejects.toThrow(/unknown command/);
    await expect(run({ command: "create", path: "x" })).rejects.toThrow(/file_text/);
    await expect(run({ command: "view" })).rejects.toThrow(/path/);
  });
});
