import { describe, expect, it } from "vitest";
import type { TaskEnvironment } from "../shared/environment.ts";
import { daemon, edge, git, sandbox, started, types, useDaemonHarness } from "./testing/daemon-harness.ts";
import { assignmentOf } from "./testing/fixtures.ts";

useDaemonHarness();

const IMAGES = { workerImage: "tether-worker:latest", allowed: ["tether-worker:envs-alt", "registry.test:5000/node"] };

function environmentWith(image: string): TaskEnvironment {
  return { id: "env_0000000000000001", name: "alt", network: { setup: [], agent: [] }, variables: {}, image };
}

function assignWithImage(taskID: string, image: string): void {
  edge.sendControl({ type: "assign", assignment: assignmentOf(taskID, 1, { environment: environmentWith(image) }) });
}

const failure = (id: string) => edge.task(id).events.at(-1)!.data as { status: string; reason: string };

describe("an environment's image", () => {
  it("is refused at once when the runner does not list it: nothing is checked, cloned or started", async () => {
    await started(daemon({ images: IMAGES }));
    assignWithImage("t1", "ghcr.io/acme/other:1");
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect(failure("t1").reason).toBe(
      "the environment's image ghcr.io/acme/other:1 is not allowed on this runner (allowedImages): it allows tether-worker:envs-alt, registry.test:5000/node:latest besides its worker image",
    );
    expect(sandbox.imagesChecked).toEqual([]);
    expect(git.calls).toEqual([]);
    expect(sandbox.workers).toHaveLength(0);
  });

  it("is refused by a runner that allows no other image", async () => {
    await started(daemon());
    assignWithImage("t1", "tether-worker:envs-alt");
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect(failure("t1").reason).toMatch(/is not allowed on this runner \(allowedImages\): it allows no image besides its worker image$/);
    expect(sandbox.workers).toHaveLength(0);
  });

  it("is refused with the check's reason when an allowed image cannot run the agent", async () => {
    sandbox.imageRefusals.set("tether-worker:envs-alt", "it has no node on its PATH: the agent needs node 20 or later");
    await started(daemon({ images: IMAGES }));
    assignWithImage("t1", "tether-worker:envs-alt");
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect(failure("t1").reason).toBe("the environment's image tether-worker:envs-alt cannot run the agent: it has no node on its PATH: the agent needs node 20 or later");
    expect(git.calls).toEqual([]);
    expect(sandbox.workers).toHaveLength(0);
  });

  it("fails the task with the reason when the check itself cannot be made", async () => {
    sandbox.checkImage = async () => {
      throw new Error("the check of the image did not end within 60 s");
    };
    await started(daemon({ images: IMAGES }));
    assignWithImage("t1", "tether-worker:envs-alt");
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect(failure("t1").reason).toBe("the environment's image tether-worker:envs-alt could not be checked: the check of the image did not end within 60 s");
    expect(sandbox.workers).toHaveLength(0);
  });

  it("runs the worker in an allowed image that passes the check (a reference without a tag is :latest); the worker image needs no check", async () => {
    await started(daemon({ images: IMAGES }));
    assignWithImage("t1", "registry.test:5000/node:latest");
    assignWithImage("t2", "tether-worker");
    await edge.until(() => sandbox.worker("t1") !== undefined && sandbox.worker("t2") !== undefined, 5000, "workers");
    expect(sandbox.worker("t1")!.spec.image).toBe("registry.test:5000/node:latest");
    expect(sandbox.worker("t2")!.spec.image).toBeUndefined();
    expect(sandbox.imagesChecked).toEqual(["registry.test:5000/node:latest"]);
  });
});
