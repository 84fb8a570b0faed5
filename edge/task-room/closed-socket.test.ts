/**
 * Attack: make the room answer on a socket that has already closed (send a frame, hang up
 * at once). The answer is dropped; no handler throws out of the room.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskRoom } from "./index.ts";
import { attachedRunner, newRoom, openViewer } from "../testing/task-room.ts";

function closedServerSocket(state: DurableObjectState, tag: string): WebSocket {
  const [ws] = state.getWebSockets(tag);
  if (!ws) throw new Error(`no ${tag} socket`);
  ws.close(1000, "gone");
  return ws;
}

describe("answering a frame on a socket that already closed", () => {
  it("drops the viewer's answer without throwing", async () => {
    const { stub } = await newRoom();
    await openViewer(stub);
    await runInDurableObject(stub, async (room: TaskRoom, state) => {
      const ws = closedServerSocket(state, "viewer");
      await expect(room.webSocketMessage(ws, JSON.stringify({ type: "ping" }))).resolves.toBeUndefined();
      await expect(room.webSocketMessage(ws, "not json")).resolves.toBeUndefined();
    });
  });

  it("drops the runner's ack and error frames without throwing", async () => {
    const { stub, taskID } = await newRoom();
    await attachedRunner(stub, taskID);
    await runInDurableObject(stub, async (room: TaskRoom, state) => {
      const ws = closedServerSocket(state, "runner");
      await expect(room.webSocketMessage(ws, JSON.stringify({ type: "ping" }))).resolves.toBeUndefined();
      await expect(room.webSocketMessage(ws, JSON.stringify({ type: "attach", taskID: "tsk_other", epoch: 1, afterCommandSeq: 0 }))).resolves.toBeUndefined();
    });
  });
});
