/**
 * The bill meter (`edge/meter.ts`) in the real edge under `wrangler dev`: with
 * `TETHER_METER=1` it counts a task's requests by kind, its rows and its size; without it
 * the route does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type WranglerEdge } from "./support/edge.ts";
import { PhoneAPI } from "./support/phone-api.ts";
import { ScriptedRunner } from "./web-runner.ts";

type Meter = { class: string; http: number; rpc: number; wsMessages: number; rowsWritten: number; storedBytes: number; methods: Record<string, number> };

describe("edge bill meter", () => {
  let edge: WranglerEdge;
  let plain: WranglerEdge;
  beforeAll(async () => {
    [edge, plain] = await Promise.all([startEdge({ vars: { TETHER_METER: "1" } }), startEdge()]);
  });
  afterAll(async () => {
    await Promise.all([edge?.dispose(), plain?.dispose()]);
  });

  it("counts a task's RPC calls, socket messages and rows in its room", async () => {
    const token = await edge.userToken("meter-user");
    const runner = new ScriptedRunner(edge.url, ["meter"]);
    await runner.register(token, "meter-runner");
    await runner.connect();
    const created = await new PhoneAPI(edge.url, token).createTask({ repo: { url: "https://example.com/m.git" }, prompt: "count", labels: ["meter"] });
    const task = await runner.take();
    for (let i = 0; i < 3; i++) await task.emit({ type: "agent.text", data: { turn: 0, text: `event ${i}` } });
    runner.close();
    const { objects } = (await (await fetch(`${edge.url}/v1/_meter`)).json()) as { objects: Meter[] };
    const room = objects.filter((o) => o.class === "TaskRoom");
    expect(room).toHaveLength(1);
    expect(room[0]!.methods).toMatchObject({ create: 1, assign: 1 });
    // attach and three event frames.
    expect(room[0]!.wsMessages).toBe(4);
    // The data socket's upgrade.
    expect(room[0]!.http).toBe(1);
    // The room row, the queued and assigned statuses, three events, at least.
    expect(room[0]!.rowsWritten).toBeGreaterThanOrEqual(6);
    expect(room[0]!.storedBytes).toBeGreaterThan(0);
    expect(objects.find((o) => o.class === "Account")?.methods).toMatchObject({ createTask: 1 });
    expect(created.id).toBe(task.id);
  });

  it("does not exist without TETHER_METER", async () => {
    expect((await fetch(`${plain.url}/v1/_meter`)).status).toBe(404);
  });
});
