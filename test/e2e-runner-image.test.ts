/**
 * End to end, the runner installed the way the README says: the runner image (built here
 * by `npm run image:runner`'s code, tagged tether-runner:test) started with the one
 * documented `docker run` — host network, the Docker socket and the runner's home mounted at
 * the same path — and a registration token in its environment. It registers against the
 * real edge under `wrangler dev`, comes online, and runs a task through the worker image
 * with the stand-in model; the phone sees it succeed and downloads its diff.
 *
 * Test-only settings beside the documented ones: the stand-in model's URL and a fake key,
 * local repositories allowed (the fixture's bare remote is mounted at its own path), no push.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildRunnerImage } from "../runner/image/build.ts";
import { FIX_SUMMARY } from "./fake-model/scripts.ts";
import { describeDocker } from "./support/docker.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { FAKE_MODEL_KEY } from "./support/runner-process.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";

const run = promisify(execFile);
const IMAGE = "tether-runner:test";
const SOCKET = process.env.DOCKER_HOST?.startsWith("unix://") ? process.env.DOCKER_HOST.slice("unix://".length) : "/var/run/docker.sock";

describeDocker("end to end: a runner installed as the runner image", () => {
  const stack = new E2EStack();
  const home = mkdtempSync(join(tmpdir(), "tether-e2e-image-runner-"));
  const name = `tether-e2e-runner-${process.pid}`;
  const viewers: ViewerSocket[] = [];
  let runnerID = "";

  /** The container's output, for failure messages. */
  const containerLog = async () => {
    const r = await run("docker", ["logs", "--tail", "60", name]).catch((err: { stdout?: string; stderr?: string }) => err);
    return `${r.stdout ?? ""}${r.stderr ?? ""}`;
  };

  beforeAll(async () => {
    await Promise.all([stack.start(), buildRunnerImage({ tag: IMAGE, log: () => undefined })]);
    const res = await fetch(`${stack.edge.url}/v1/runners/registration-tokens`, { method: "POST", headers: { authorization: `Bearer ${stack.token}` } });
    expect(res.status).toBe(201);
    const { token } = (await res.json()) as { token: string };
    const repoDir = dirname(stack.repo.url);
    // The README's command, plus the test-only settings named at the top.
    await run("docker", [
      "run", "-d", "--name", name, "--init", "--network", "host",
      "-v", `${SOCKET}:/var/run/docker.sock`,
      "-v", `${home}:${home}`, "-e", `TETHER_RUNNER_HOME=${home}`,
      "-e", `TETHER_EDGE_URL=${stack.edge.url}`, "-e", `TETHER_REGISTRATION_TOKEN=${token}`, "-e", "TETHER_RUNNER_NAME=image-runner",
      "-e", `ANTHROPIC_API_KEY=${FAKE_MODEL_KEY}`,
      "-e", `ANTHROPIC_BASE_URL=${stack.model.url}`, "-e", "TETHER_ALLOW_LOCAL_REPOS=true", "-e", "TETHER_PUSH=false",
      ...(process.env.TETHER_WORKER_IMAGE ? ["-e", `TETHER_WORKER_IMAGE=${process.env.TETHER_WORKER_IMAGE}`] : []),
      "-v", `${repoDir}:${repoDir}`,
      IMAGE,
    ]);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${stack.edge.url}/v1/runners`, { headers: { authorization: `Bearer ${stack.token}` } });
      const { runners } = (await res.json()) as { runners: { id: string; name: string; online: boolean }[] };
      const mine = runners.find((r) => r.name === "image-runner" && r.online);
      if (mine) {
        runnerID = mine.id;
        break;
      }
      if (Date.now() > deadline) throw new Error(`the image's runner is not online within 60 s:\n${await containerLog()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 600_000);

  afterAll(async () => {
    for (const v of viewers) await v.close();
    await run("docker", ["rm", "-f", name]).catch(() => undefined);
    if (runnerID) {
      const docker = new Docker();
      for (const c of await docker.listContainers({ all: true, filters: { label: [`tether.runner=${runnerID}`] } })) {
        await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    rmSync(home, { recursive: true, force: true });
    await stack.dispose();
  }, 120_000);

  it("registered with the token: the credential is in the mounted home and `tether-runner status` in the container shows it", async () => {
    const config = JSON.parse(readFileSync(join(home, "config.json"), "utf8")) as { runnerID?: string; credential?: string; edgeURL?: string };
    expect(config.runnerID).toBe(runnerID);
    expect(config.edgeURL).toBe(stack.edge.url);
    expect(config.credential).toMatch(/\S{20,}/);
    const status = await run("docker", ["exec", name, "tether-runner", "status"]);
    expect(status.stdout).toContain(`runner:   ${runnerID} at ${stack.edge.url}`);
    expect(status.stdout).toMatch(/daemon:\s+running/);
  });

  it("runs a task to succeeded in a worker container and the phone downloads its diff", async () => {
    const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:fix] The test fails. Fix it." });
    const viewer = await ViewerSocket.open(stack.edge.url, task.id, stack.token);
    viewers.push(viewer);
    await viewer.waitFor("the agent's answer", (e) => e.type === "agent.text" && e.data.text === FIX_SUMMARY, 120_000);
    await stack.phone.finish(task.id);
    const done = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
    expect(done.data.status, `${describeEvents(viewer.events)}\n${await containerLog()}`).toBe("succeeded");
    expect((await stack.phone.task(task.id)).runnerID).toBe(runnerID);
    const patch = await stack.phone.artifact(task.id, "diff.patch");
    expect(patch).toMatch(/^\+.*return a \+ b;/m);
  });
});
