import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConversation, saveConversation, type SavedConversation } from "./conversation-store.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "conv-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const conversation: SavedConversation = {
  version: 1,
  taskID: "t1",
  turn: 1,
  model: "m",
  messages: [
    { role: "user", content: "fix it" },
    { role: "assistant", content: [{ type: "text", text: "done" }] },
  ],
};

describe("conversation store", () => {
  it("saves atomically and loads back", async () => {
    await saveConversation(join(dir, "state"), conversation);
    expect(await readdir(join(dir, "state"))).toEqual(["conversation.json"]);
    expect(await loadConversation(join(dir, "state"), "t1")).toEqual({ ok: true, conversation });
  });

  it("says why it cannot load: missing, not JSON, invalid, another task", async () => {
    expect(await loadConversation(dir, "t1")).toMatchObject({ ok: false, reason: expect.stringMatching(/no saved conversation/) });
    await writeFile(join(dir, "conversation.json"), "{oops");
    expect(await loadConversation(dir, "t1")).toMatchObject({ ok: false, reason: expect.stringMatching(/not JSON/) });
    await writeFile(join(dir, "conversation.json"), JSON.stringify({ ...conversation, version: 9 }));
    expect(await loadConversation(dir, "t1")).toMatchObject({ ok: false, reason: expect.stringMatching(/not valid/) });
    await saveConversation(dir, conversation);
    expect(await loadConversation(dir, "t2")).toMatchObject({ ok: false, reason: expect.stringMatching(/belongs to task t1/) });
  });
});
