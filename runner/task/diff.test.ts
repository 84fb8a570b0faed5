import { describe, expect, it } from "vitest";
import { FakeGit } from "../testing/fakes.ts";
import type { ArtifactPort } from "../ports.ts";
import { type DiffJob, publishDiff, redactURL } from "./diff.ts";

const uploads: string[] = [];
const okArtifacts: ArtifactPort = { upload: async (_t, _e, name) => (uploads.push(name), { ok: true, value: undefined }) };
const job = (over: Partial<DiffJob> = {}): DiffJob => ({
  git: new FakeGit(),
  artifacts: okArtifacts,
  taskID: "t1",
  epoch: 1,
  title: "fix it",
  dir: "/w",
  baseRef: "base",
  branch: "tether/t1",
  status: "succeeded",
  push: false,
  credentials: {},
  ...over,
});

describe("publishDiff", () => {
  it("commits, diffs against the base, uploads and reports the numbers", async () => {
    const git = new FakeGit();
    const events = await publishDiff(job({ git }));
    expect(git.calls).toEqual(["commit tether: fix it", "diff base"]);
    expect(events).toEqual([
      { type: "diff", data: { files: 1, insertions: 2, deletions: 1, artifact: "diff.patch", changedFiles: [{ path: "a.txt", insertions: 2, deletions: 1 }], branch: "tether/t1" } },
    ]);
  });

  it("pushes only a succeeded task when configured, and reports a failed push and upload", async () => {
    const git = new FakeGit();
    git.push = async () => ({ ok: false, error: "rejected" });
    const failing: ArtifactPort = { upload: async () => ({ ok: false, error: "the edge answered 409" }) };
    const events = await publishDiff(job({ git, push: true, artifacts: failing }));
    expect(events.map((e) => e.type)).toEqual(["log", "log", "diff"]);
    expect(events[0]!.data).toMatchObject({ level: "error", message: "push failed: rejected" });
    expect(events[2]!.data).toMatchObject({ artifact: "", pushed: false });
    const cancelled = new FakeGit();
    await publishDiff(job({ git: cancelled, push: true, status: "cancelled" }));
    expect(cancelled.calls.some((c) => c.startsWith("push"))).toBe(false);
  });

  it("turns a git error into a log event instead of throwing", async () => {
    const git = new FakeGit();
    git.makeDiff = async () => {
      throw new Error("bad revision 'base'");
    };
    expect(await publishDiff(job({ git }))).toEqual([{ type: "log", data: { level: "error", message: "could not make the diff: bad revision 'base'" } }]);
  });
});

describe("redactURL", () => {
  it("drops user and password from a URL and leaves others alone", () => {
    expect(redactURL("https://user:tok@example.com/r.git")).toBe("https://example.com/r.git");
    expect(redactURL("git@github.com:o/r.git")).toBe("git@github.com:o/r.git");
  });
});
