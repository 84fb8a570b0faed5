/**
 * `npm run export` and `npm run import` as a person runs them, between two real edges
 * (wrangler dev): everything exported from one edge and imported into a fresh one reads
 * back the same — records, events, artifacts — and exporting the second edge gives the
 * same folder.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { TetherClient } from "../shared/client/index.ts";
import { mintUserToken } from "../scripts/token.ts";
import { startEdge, type WranglerEdge } from "./support/edge.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");

async function npm(script: string, args: string[], token: string): Promise<{ stdout: string; code: number }> {
  try {
    const { TETHER_TOKEN: _ignored, ...env } = process.env;
    const { stdout } = await run("npm", ["run", "--silent", script, "--", ...args], { cwd: ROOT, env: token ? { ...env, TETHER_TOKEN: token } : env });
    return { stdout, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: `${e.stdout ?? ""}${e.stderr ?? ""}`, code: e.code ?? 1 };
  }
}

/** A runner's control socket: hello, then the first assignment, accepted. */
async function acceptOne(edge: string, credential: string): Promise<{ ws: WebSocket; taskID: string; epoch: number }> {
  const ws = new WebSocket(`${edge.replace(/^http/, "ws")}/v1/runner/connect`, { headers: { authorization: `Bearer ${credential}` } });
  const frames: any[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  ws.send(JSON.stringify({ type: "hello", version: "test", labels: [], capacity: 1, tasks: [] }));
  const deadline = Date.now() + 15_000;
  while (!frames.some((f) => f.type === "assign")) {
    if (Date.now() > deadline) throw new Error(`no assignment; frames: ${JSON.stringify(frames)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const { assignment } = frames.find((f) => f.type === "assign");
  ws.send(JSON.stringify({ type: "accept", taskID: assignment.task.id, epoch: assignment.epoch }));
  return { ws, taskID: assignment.task.id, epoch: assignment.epoch };
}

/** Every file under `dir` by relative path, with its text. */
function filesOf(dir: string, skip: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name).slice(dir.length + 1);
    if (!skip.includes(path)) out[path] = readFileSync(join(dir, path), "utf8");
  }
  return out;
}

describe("npm run export / npm run import between two edges", () => {
  let from: WranglerEdge;
  let into: WranglerEdge;
  const dirs: string[] = [];

  beforeAll(async () => {
    [from, into] = await Promise.all([startEdge(), startEdge()]);
  });
  afterAll(async () => {
    await Promise.all([from?.dispose(), into?.dispose()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("round-trips every task, its events and its artifacts through a folder a person can read", async () => {
    const tokenFrom = await mintUserToken({ user: "alice", days: 1, secret: from.secret });
    const tokenInto = await mintUserToken({ user: "alice", days: 1, secret: into.secret });
    const a = new TetherClient({ baseURL: from.url, token: tokenFrom });
    const b = new TetherClient({ baseURL: into.url, token: tokenInto });

    // A task that ran on a runner, left an artifact and became lost when the runner was deleted...
    const { credential, runner } = await a.registerRunner({ token: (await a.createRegistrationToken()).token, name: "box" });
    const ran = await a.createTask({ repo: { url: "https://example.com/r.git" }, prompt: "Fix the flaky test" });
    const held = await acceptOne(from.url, credential);
    expect(held.taskID).toBe(ran.id);
    const upload = await fetch(`${from.url}/v1/runner/tasks/${ran.id}/artifacts/diff.patch?epoch=${held.epoch}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${credential}`, "content-type": "text/x-diff" },
      body: "--- a/x\n+++ b/x\n+fixed ✓\n",
    });
    expect(upload.status).toBe(201);
    await a.revokeRunner(runner.id);
    held.ws.close();
    // ...and one cancelled after a follow-up.
    const cancelled = await a.createTask({ repo: { url: "https://example.com/r.git" }, prompt: "Write the docs", labels: ["docs"] });
    await a.sendMessage(cancelled.id, "and the README");
    await a.cancelTask(cancelled.id);
    const deadline = Date.now() + 15_000;
    while ((await a.getTask(ran.id)).status !== "lost") {
      if (Date.now() > deadline) throw new Error("the deleted runner's task never became lost");
      await new Promise((r) => setTimeout(r, 50));
    }

    const out = mkdtempSync(join(tmpdir(), "tether-export-"));
    dirs.push(out);
    const exported = await npm("export", ["--edge", from.url, "--out", out], tokenFrom);
    expect(exported.code, exported.stdout).toBe(0);
    expect(exported.stdout).toContain("exported 2 task(s)");
    expect(readdirSync(out).sort()).toEqual([ran.id, cancelled.id, "export-state.json"].sort());
    expect(readdirSync(join(out, ran.id)).sort()).toEqual(["artifacts", "artifacts.json", "events.ndjson", "task.json"]);
    expect(readFileSync(join(out, ran.id, "artifacts", "diff.patch"), "utf8")).toBe("--- a/x\n+++ b/x\n+fixed ✓\n");
    expect(JSON.parse(readFileSync(join(out, cancelled.id, "task.json"), "utf8"))).toMatchObject({ id: cancelled.id, status: "cancelled", labels: ["docs"] });
    const cancelledEvents = readFileSync(join(out, cancelled.id, "events.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(cancelledEvents.map((e) => e.type)).toEqual(["status", "user.message", "user.cancel", "status"]);

    const imported = await npm("import", ["--edge", into.url, "--in", out], tokenInto);
    expect(imported.code, imported.stdout).toBe(0);
    expect(imported.stdout).toContain("imported 2, skipped 0, failed 0");
    for (const id of [ran.id, cancelled.id]) {
      expect(await b.getTask(id)).toEqual(await a.getTask(id));
      expect(await b.listEvents(id)).toEqual(await a.listEvents(id));
    }
    expect(await b.downloadArtifact(ran.id, "diff.patch")).toEqual(await a.downloadArtifact(ran.id, "diff.patch"));
    expect((await b.listTasks()).tasks).toEqual((await a.listTasks()).tasks);

    // Again: the edge has both, so both are skipped; exporting the new edge gives the same folder.
    const again = await npm("import", ["--edge", into.url, "--in", out], tokenInto);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain("imported 0, skipped 2, failed 0");
    const back = mkdtempSync(join(tmpdir(), "tether-export-"));
    dirs.push(back);
    expect((await npm("export", ["--edge", into.url, "--out", back], tokenInto)).code).toBe(0);
    expect(filesOf(back, ["export-state.json"])).toEqual(filesOf(out, ["export-state.json"]));
  });

  it("says what is missing when no token is given", async () => {
    const res = await npm("export", ["--edge", from.url, "--out", join(tmpdir(), "never")], "");
    expect(res.code).not.toBe(0);
    expect(res.stdout).toContain("--token");
  });
});
