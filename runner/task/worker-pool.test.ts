import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Sandbox, SandboxSpec, WarmSpec, WarmWorker, WorkerHandle, WorkerSink } from "../ports.ts";
import { assignmentOf } from "../testing/fixtures.ts";
import { WorkerPool } from "./worker-pool.ts";
import { testDir } from "../testing/temp-dir.ts";

const RESOURCES = { memoryMB: 512, cpus: 1, pids: 64 };

class FakeWarm implements WarmWorker {
  readonly stopped: Promise<void>;
  die!: () => void;
  discarded = false;
  constructor(
    readonly id: string,
    readonly imageID: string,
    readonly spec: WarmSpec,
  ) {
    this.stopped = new Promise((resolve) => (this.die = resolve));
  }
  async assign(spec: SandboxSpec, _sink: WorkerSink): Promise<WorkerHandle> {
    return { taskID: spec.taskID, id: this.id } as WorkerHandle;
  }
  async discard(): Promise<void> {
    this.discarded = true;
  }
}

/** A sandbox that only starts workers ahead; `image` is what the tag names now. */
class PoolSandbox implements Pick<Sandbox, "kind" | "imageID" | "prestart"> {
  readonly kind = "docker" as const;
  image = "sha256:one";
  readonly made: FakeWarm[] = [];
  async imageID(): Promise<string> {
    return this.image;
  }
  async prestart(spec: WarmSpec): Promise<WarmWorker> {
    const w = new FakeWarm(`c${this.made.length + 1}`, this.image, spec);
    this.made.push(w);
    return w;
  }
  get live(): FakeWarm[] {
    return this.made.filter((w) => !w.discarded);
  }
}

function setup(size: number, capacity: number, imageCheckMs?: number) {
  const home = testDir("tether-pool-");
  const sandbox = new PoolSandbox();
  const state = { active: 0 };
  const pool = new WorkerPool({
    sandbox: sandbox as unknown as Sandbox,
    size,
    home,
    proxySocketDir: join(home, "proxy"),
    resources: RESOURCES,
    room: () => capacity - state.active,
    logger: pino({ level: "silent" }),
    ...(imageCheckMs ? { imageCheckMs } : {}),
  });
  return { home, sandbox, state, pool };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
}

const task = (id: string) => assignmentOf(id).task;

describe("WorkerPool", () => {
  it("holds min(size, room): waiting workers and active tasks never exceed the capacity", async () => {
    const { sandbox, state, pool } = setup(2, 2);
    await pool.start(new Set());
    await until(() => sandbox.live.length === 2, "two waiting");
    // A task takes one: the pool refills to what the capacity leaves (2 - 1 = 1), so nothing new is made.
    const slot = pool.take(task("t1"));
    expect(slot).toBeDefined();
    state.active = 1;
    pool.fill();
    expect(pool.size).toBe(1);
    expect(sandbox.made).toHaveLength(2);
    // A second task takes the last one: none is left waiting at full capacity.
    expect(pool.take(task("t2"))).toBeDefined();
    state.active = 2;
    pool.fill();
    expect(pool.size).toBe(0);
    // A task that did not use the pool still counts: room shrinks, a waiting worker goes.
    state.active = 0;
    pool.fill();
    await until(() => pool.size === 2 && sandbox.made.length === 4, "refilled after the tasks ended");
    state.active = 1;
    pool.fill();
    expect(pool.size).toBe(1);
    await until(() => sandbox.made.filter((w) => w.discarded).length === 1, "the extra worker removed");
    await pool.drain();
  });

  it("refills in the background after a take, and a slot serves its task once", async () => {
    const { sandbox, state, pool } = setup(1, 4);
    await pool.start(new Set());
    await until(() => sandbox.live.length === 1, "one waiting");
    const slot = pool.take(task("t1"))!;
    state.active = 1;
    pool.fill();
    await until(() => sandbox.made.length === 2, "a new worker after the take");
    const worker = await slot.claim();
    expect(worker?.id).toBe("c1");
    expect(await slot.claim()).toBeUndefined();
    // The slot's directories are the task's: workspace and state, made before its worker.
    expect(existsSync(join(slot.dir, "workspace"))).toBe(true);
    expect(existsSync(join(slot.dir, "state"))).toBe(true);
    expect(sandbox.made[0]!.spec.workspaceDir).toBe(join(slot.dir, "workspace"));
    await pool.drain();
  });

  it("does not hand out a worker of an image the tag no longer names, and makes the pool again", async () => {
    const { sandbox, state, pool } = setup(1, 4);
    await pool.start(new Set());
    await until(() => sandbox.live.length === 1, "one waiting");
    sandbox.image = "sha256:two";
    const slot = pool.take(task("t1"))!;
    state.active = 1;
    pool.fill();
    expect(await slot.claim()).toBeUndefined();
    expect(sandbox.made[0]!.discarded).toBe(true);
    await until(() => sandbox.live.some((w) => w.imageID === "sha256:two" && w !== sandbox.made[0]), "a worker of the new image");
    await pool.drain();
  });

  it("replaces the waiting workers when the image changes while they wait", async () => {
    const { sandbox, pool } = setup(1, 4, 10);
    await pool.start(new Set());
    await until(() => sandbox.live.length === 1, "one waiting");
    sandbox.image = "sha256:two";
    // No task comes: the periodic check finds the new image.
    await until(() => sandbox.made[0]!.discarded && sandbox.live.length === 1 && sandbox.live[0]!.imageID === "sha256:two", "the waiting worker replaced");
    await pool.drain();
  });

  it("replaces a waiting worker that stops", async () => {
    const { sandbox, pool } = setup(1, 4);
    await pool.start(new Set());
    await until(() => sandbox.live.length === 1, "one waiting");
    sandbox.made[0]!.die();
    await until(() => sandbox.made.length === 2 && sandbox.made[0]!.discarded, "replaced");
    expect(pool.size).toBe(1);
    await pool.drain();
  });

  it("gives no slot to a task with variables of its own or with less memory than the runner's", async () => {
    const { sandbox, pool } = setup(1, 4);
    await pool.start(new Set());
    await until(() => sandbox.live.length === 1, "one waiting");
    const withVariables = { ...task("t1"), environment: { id: "e", name: "e", network: { setup: [], agent: [] }, variables: { A: "1" } } };
    expect(pool.take(withVariables)).toBeUndefined();
    const smaller = { ...task("t2"), limits: { ...task("t2").limits, memoryMB: 256 } };
    expect(pool.take(smaller)).toBeUndefined();
    expect(pool.take(task("t3"))).toBeDefined();
    await pool.drain();
  });

  it("drains: every waiting worker and its directories go, and no more are made", async () => {
    const { home, sandbox, pool } = setup(2, 4);
    await pool.start(new Set());
    await until(() => sandbox.live.length === 2, "two waiting");
    const dirs = sandbox.made.map((w) => w.spec.stateDir);
    await pool.drain();
    expect(sandbox.live).toEqual([]);
    for (const d of dirs) expect(existsSync(d)).toBe(false);
    pool.fill();
    expect(sandbox.made).toHaveLength(2);
    expect(existsSync(join(home, "proxy", `slot-${sandbox.made[0]!.spec.slotID}`))).toBe(false);
  });

  it("sweeps slot directories an earlier runner left, keeping those journaled tasks use", async () => {
    const { home, pool } = setup(0, 4);
    const kept = join(home, "tasks", "slot-kept");
    const left = join(home, "tasks", "slot-left");
    const proxyLeft = join(home, "proxy", "slot-left");
    const task = join(home, "tasks", "t1");
    for (const d of [kept, left, proxyLeft, task]) mkdirSync(d, { recursive: true });
    await pool.start(new Set([kept]));
    expect([kept, left, proxyLeft, task].map((d) => existsSync(d))).toEqual([true, false, false, true]);
    await pool.drain();
  });
});
