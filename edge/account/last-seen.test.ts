import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { userAccountID } from "../auth/index.ts";
import { type TestSocket, accountStub, bearer, call, connectRunner, registerRunner, unique, userToken, waitFor } from "../testing/edge.ts";
import { LAST_SEEN_WRITE_SECONDS } from "./last-seen.ts";

/** The runner's `last_seen_at` as the Account's SQLite holds it (ms). */
async function storedSeen(accountID: string, runnerID: string): Promise<number> {
  return runInDurableObject(accountStub(accountID), (_i, state) =>
    Date.parse(state.storage.sql.exec<{ t: string }>("SELECT last_seen_at AS t FROM runners WHERE id = ?", runnerID).one().t),
  );
}

/** Sets the stored last-seen `ago` ms back, and the sockets' too unless `rowOnly`; answers the stored value (ms). */
async function backdate(accountID: string, ago: number, rowOnly = false): Promise<number> {
  return runInDurableObject(accountStub(accountID), (_i, state) => {
    const seenAt = Date.now() - ago;
    state.storage.sql.exec("UPDATE runners SET last_seen_at = ?", new Date(seenAt).toISOString());
    if (!rowOnly) for (const ws of state.getWebSockets()) ws.serializeAttachment({ ...ws.deserializeAttachment(), seenAt });
    return seenAt;
  });
}

/** Sends heartbeats and waits for the answer to a ping after them, so the Account has handled them. */
async function heartbeats(control: TestSocket, n: number): Promise<void> {
  for (let i = 0; i < n; i++) control.send({ type: "heartbeat", tasks: [] });
  const pongs = control.frames.filter((f) => f.type === "pong").length;
  control.send({ type: "ping" });
  await control.until((frames) => frames.filter((f) => f.type === "pong").length > pongs);
}

async function listed(user: string): Promise<any> {
  return ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners[0];
}

describe("runner last-seen", () => {
  it("is current within a heartbeat in the runner list while SQLite gets it once per interval and at close", async () => {
    const sub = unique("acct");
    const accountID = userAccountID(sub);
    const user = await userToken({ sub });
    const runner = await registerRunner(user);
    const control = await connectRunner(runner.credential);

    // Seen 30 s ago (row and socket): heartbeats show in the list, and the row stays as it was.
    const stored = await backdate(accountID, 30_000);
    const sentAt = Date.now();
    await heartbeats(control, 3);
    const online = await listed(user);
    expect(online.online).toBe(true);
    expect(Date.parse(online.lastSeenAt)).toBeGreaterThanOrEqual(sentAt);
    expect(await storedSeen(accountID, runner.id)).toBe(stored);

    // The row is LAST_SEEN_WRITE_SECONDS old: the next heartbeat writes it.
    await backdate(accountID, LAST_SEEN_WRITE_SECONDS * 1000, true);
    const dueAt = Date.now();
    await heartbeats(control, 1);
    expect(await storedSeen(accountID, runner.id)).toBeGreaterThanOrEqual(dueAt);

    // The socket closes: its last sign of life, later than the row, is stored.
    const before = await backdate(accountID, 30_000, true);
    const closedAt = Date.now();
    await heartbeats(control, 1);
    expect(await storedSeen(accountID, runner.id)).toBe(before);
    control.close();
    const after = await waitFor(() => storedSeen(accountID, runner.id), (t) => t > before);
    expect(after).toBeGreaterThanOrEqual(closedAt);
    const offline = await waitFor(() => listed(user), (r) => r.online === false);
    expect(Date.parse(offline.lastSeenAt)).toBe(after);
  });
});
