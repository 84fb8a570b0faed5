import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LIMITS } from "../../../shared/limits.ts";
import { bashTool } from "./bash.ts";
import { makeTestWorkspace, type TestWorkspace } from "./test-context.ts";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeTestWorkspace();
});
afterEach(() => ws.cleanup());

/** The pids whose command line contains `text`. */
function running(text: string): string[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ").includes(text);
    } catch {
      return false;
    }
  });
}

const outputs = (ws: TestWorkspace) => ws.events.filter((e) => e.type === "tool.output").map((e) => e.data as { stream: string; text: string });

describe("bash tool", () => {
  it("runs in the workspace and reports output and exit code", async () => {
    const ok = await bashTool.run({ command: "pwd; echo out; echo err >&2" }, ws.ctx());
    expect(ok).toMatchObject({ ok: true, exitCode: 0, summary: "exit 0" });
    expect(ok.content).toContain(ws.root);
    expect(ok.content).toContain("out");
    expect(ok.content).toContain("err");
    expect(outputs(ws).some((o) => o.stream === "stderr" && o.text.includes("err"))).toBe(true);
    const failed = await bashTool.run({ command: "exit 3" }, ws.ctx());
    expect(failed).toMatchObject({ ok: false, exitCode: 3 });
    expect(failed.content).toContain("[exit code 3]");
  });

  it("streams output while the command runs", async () => {
    // The command goes on only once the test has seen its first line: "late" proves that line
    // was streamed before the command ended, "never" that it was not.
    const ctx = ws.ctx({
      emit: (e) => {
        ws.events.push(e);
        if (e.type === "tool.output" && e.data.text.includes("early")) writeFileSync(join(ws.root, "go"), "");
      },
    });
    const command = "echo early; for i in $(seq 1 400); do [ -e go ] && break; sleep 0.05; done; if [ -e go ]; then echo late; else echo never; fi";
    const result = await bashTool.run({ command }, ctx);
    expect(result.ok).toBe(true);
    expect(outputs(ws).map((o) => o.text).join("")).toBe("early\nlate\n");
  });

  it("caps huge output for the model, keeping head and tail, and chunks the stream", async () => {
    const result = await bashTool.run({ command: "echo FIRST; head -c 3000000 /dev/zero | tr '\\0' 'x'; echo; echo LAST" }, ws.ctx());
    expect(result.ok).toBe(true);
    expect(result.content.length).toBeLessThan(30_000);
    expect(result.content.startsWith("FIRST")).toBe(true);
    expect(result.content.trimEnd().endsWith("LAST")).toBe(true);
    expect(result.content).toMatch(/\[\.\.\. \d+ characters cut/);
    expect(result.summary).toContain("output cut");
    const chunks = outputs(ws);
    expect(chunks.every((c) => Buffer.byteLength(c.text) <= LIMITS.outputChunkBytes + 200)).toBe(true);
    const streamed = chunks.reduce((n, c) => n + Buffer.byteLength(c.text), 0);
    expect(streamed).toBeLessThan(1.1 * 1024 * 1024);
    expect(chunks.at(-1)?.text).toMatch(/not streamed/);
  });

  it("kills a command that runs past its timeout, with its children", async () => {
    const marker = `sleep 30.${process.pid}${Math.floor(Math.random() * 1000)}`;
    const result = await bashTool.run({ command: `(${marker}; touch late-child) & ${marker}`, timeout: 1 }, ws.ctx());
    expect(running(marker)).toEqual([]);
    expect(result.ok).toBe(false);
    expect(result.summary).toBe("timed out after 1 s");
    expect(result.content).toMatch(/timed out/);
    expect(existsSync(join(ws.root, "late-child"))).toBe(false);
  });

  it("kills the process group on cancel", async () => {
    const controller = new AbortController();
    const marker = `sleep 30.${process.pid}${Math.floor(Math.random() * 1000)}`;
    const ctx = ws.ctx({
      signal: controller.signal,
      emit: (e) => {
        ws.events.push(e);
        if (e.type === "tool.output" && e.data.text.includes("started")) controller.abort();
      },
    });
    const result = await bashTool.run({ command: `(${marker}) & echo started; ${marker}` }, ctx);
    expect(result).toMatchObject({ ok: false, summary: "cancelled" });
    expect(result.content).toContain("started");
    expect(running(marker)).toEqual([]);
  });

  it("turns binary output into text and never emits raw control bytes", async () => {
    const result = await bashTool.run({ command: "printf 'a\\000b\\001c\\377d\\n'" }, ws.ctx());
    expect(result.ok).toBe(true);
    expect(result.content).not.toMatch(/[\x00\x01]/);
    expect(result.content).toContain("a\uFFFDb\uFFFDc\uFFFDd");
  });

  it("keeps model keys out of the command's environment", async () => {
    process.env.ANTHROPIC_API_KEY = "sk-should-not-leak";
    try {
      const result = await bashTool.run({ command: "env" }, ws.ctx());
      expect(result.content).not.toContain("sk-should-not-leak");
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
    }
  });

  it("refuses input without a command", async () => {
    await expect(bashTool.run({}, ws.ctx())).rejects.toThrow(/"command" is required/);
    await expect(bashTool.run({ command: "  " }, ws.ctx())).rejects.toThrow(/must not be empty/);
    await expect(bashTool.run({ command: "true", timeout: -1 }, ws.ctx())).rejects.toThrow(/timeout/);
  });
});
