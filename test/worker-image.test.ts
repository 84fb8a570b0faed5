/**
 * The built worker image: the scripted run inside it (no network, a non-root user, the proxy
 * socket's directory mounted, the stand-in model listening on that socket), the toolchains it
 * holds, and its user on a base with a uid 1000 user of its own. The image is
 * TETHER_WORKER_IMAGE (default tether-worker:latest), built when stale; the base the last test
 * builds from is TETHER_TEST_BASE_IMAGE, default tether-base:local, built when stale.
 */
import { chownSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeDocker } from "./support/docker.ts";
import { startFakeModel, type FakeModel } from "./fake-model/index.ts";
import { createFixtureRepo, FIX_SUMMARY, fixTheFailingTestScript, inspectSandboxScript } from "./fake-model/scripts.ts";
import { ensureLocalBase } from "../worker-image/build.ts";
import { ensureWorkerImage } from "./worker-image-support.ts";
import { makeTaskDirs, startAgent, startLine, typeSequence, type TaskDirs } from "./worker-harness.ts";

const TOKEN = "task-token-in-container";

describeDocker("worker image", () => {
  let image: string;
  let base: string;
  let dirs: TaskDirs;
  let model: FakeModel;

  beforeAll(async () => {
    image = await ensureWorkerImage();
    base = process.env.TETHER_TEST_BASE_IMAGE ?? (await ensureLocalBase(() => {}));
    dirs = await makeTaskDirs();
    await createFixtureRepo(dirs.workspace, { git: true });
    execFileSync("chown", ["-R", "1000:1000", dirs.workspace, dirs.stateDir]);
    model = await startFakeModel({ script: [...fixTheFailingTestScript(), ...inspectSandboxScript()], listen: { socketPath: join(dirs.proxyDir, "model.sock") }, apiKey: TOKEN });
  }, 600_000);

  afterAll(async () => {
    await model?.close();
    if (dirs) {
      chownSync(dirs.base, 0, 0);
      await rm(dirs.base, { recursive: true, force: true });
    }
  });

  it("fixes the test inside a --network none, read-only container as uid 1000, with no key in its env", async () => {
    const name = `tether-worker-test-${process.pid}`;
    const a = startAgent(
      [
        "docker", "run", "-i", "--rm", "--name", name,
        // As the runner's docker sandbox runs it: hardened, read-only root, the proxy dir read-only.
        "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--init",
        "--memory", "512m", "--memory-swap", "512m", "--pids-limit", "256", "--user", "1000:1000",
        "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m", "-e", "HOME=/tmp",
        "-v", `${dirs.workspace}:/workspace:rw`, "-v", `${dirs.stateDir}:/state:rw`, "-v", `${dirs.proxyDir}:/run/tether:ro`,
        image,
      ],
      {},
    );
    try {
      a.send(startLine({ socketPath: "/run/tether/model.sock", token: TOKEN }));
      await a.waitFor((e) => e.type === "turn.end", 60_000);
      expect(await readFile(join(dirs.workspace, "math.js"), "utf8")).toContain("return a + b;");
      expect(a.events.filter((e) => e.type === "tool.end").map((e) => [e.data.callID, e.data.ok])).toEqual([
        ["toolu_list", true],
        ["toolu_view", true],
        ["toolu_test1", false],
        ["toolu_edit", true],
        ["toolu_test2", true],
      ]);
      expect(typeSequence(a.events).at(-1)).toBe("turn.end");
      expect(a.events.find((e) => e.type === "file.changed")?.data).toEqual({ path: "math.js", change: "modified" });
      expect(a.events.filter((e) => e.type === "agent.text").at(-1)?.data.text).toBe(FIX_SUMMARY);

      a.send({ type: "message", text: "Show me the sandbox." });
      await a.waitFor((e) => e.type === "turn.end" && e.data.turn === 1, 60_000);
      const inspect = a.events.filter((e) => e.type === "tool.output" && e.data.callID === "toolu_inspect").map((e) => (e.data as { text: string }).text).join("");
      expect(inspect).toMatch(/^uid=1000$/m);
      expect(inspect).toMatch(/^net=lo$/m);
      const env = inspect.split("---env---\n")[1] ?? "";
      expect(env).toContain("TETHER_WORKSPACE=/workspace");
      expect(env).not.toMatch(/ANTHROPIC|API_KEY/);
      expect(env).not.toContain(TOKEN);
      // The model saw the same through the proxy socket.
      expect(JSON.stringify(model.requests.at(-1)?.body.messages)).toContain("uid=1000");

      a.child.stdin.end();
      expect(await a.exit).toBe(0);
      expect(a.events.at(-1)).toMatchObject({ type: "done", data: { ok: true } });
      expect(a.badLines).toEqual([]);
      expect(JSON.parse(await readFile(join(dirs.stateDir, "conversation.json"), "utf8"))).toMatchObject({ taskID: "task-1", turn: 1 });
    } finally {
      try {
        execFileSync("docker", ["rm", "-f", name], { stdio: "ignore" });
      } catch {
        // Already gone (--rm).
      }
    }
  }, 120_000);

  it("holds the toolchains, each answering as agent with no network", () => {
    // name, shell command, a line its output holds
    const tools: [string, string, RegExp][] = [
      ["user", "id -un", /^agent$/m],
      ["node", "node --version", /^v\d+\.\d+\.\d+$/m],
      ["npm", "npm --version", /^\d+\.\d+\.\d+$/m],
      ["npx", "npx --version", /^\d+\.\d+\.\d+$/m],
      ["corepack", "corepack --version", /^\d+\.\d+\.\d+$/m],
      ["pnpm and yarn shims", "command -v pnpm && command -v yarn", /^\/\S+\/pnpm\n\/\S+\/yarn$/m],
      ["python3", "python3 --version", /^Python 3\.\d+/m],
      ["pip", "python3 -m pip --version", /^pip \d+/m],
      ["venv", "python3 -m venv /tmp/venv && /tmp/venv/bin/python -m pip --version", /^pip \d+.* from \/tmp\/venv\//m],
      ["git", "git --version", /^git version \d+/m],
      ["rg", "rg --version", /^ripgrep \d+/m],
      ["make", "make --version", /^GNU Make \d+/m],
      ["cc", "cc --version", /^cc \(.*\) \d+/m],
      ["g++", "g++ --version", /^g\+\+ \(.*\) \d+/m],
      ["c++ build", "printf '#include <iostream>\\nint main() { std::cout << 6 * 7 << std::endl; }\\n' | g++ -x c++ -o /tmp/answer - && /tmp/answer", /^42$/m],
      ["curl", "curl --version", /^curl \d+/m],
      ["unzip", "unzip -v", /^UnZip \d+/m],
      ["jq", "jq --version", /^jq-\d+/m],
    ];
    const script = tools.map(([name, command]) => `echo "=== ${name}"; (${command}) 2>&1; echo "=== exit $?"`).join("\n");
    const out = execFileSync("docker", ["run", "--rm", "--network", "none", "--cap-drop", "ALL", "--entrypoint", "sh", image, "-c", script], { maxBuffer: 16 * 1024 * 1024 }).toString();
    const answers = new Map([...out.matchAll(/^=== (.+)\n([\s\S]*?)^=== exit (\d+)$/gm)].map((m) => [m[1], { output: m[2], exit: Number(m[3]) }]));
    for (const [name, , answer] of tools) {
      expect({ name, ...answers.get(name) }).toEqual({ name, output: expect.stringMatching(answer), exit: 0 });
    }
  }, 120_000);

  it("turns a base's uid 1000 user (node in the public Node images) into agent", () => {
    const nodeBase = `tether-test-nodebase:${process.pid}`;
    const built = `tether-test-worker:${process.pid}`;
    const docker = (args: string[], input?: string) => execFileSync("docker", args, { input, env: { ...process.env, DOCKER_BUILDKIT: "0" }, maxBuffer: 16 * 1024 * 1024 }).toString();
    try {
      docker(["build", "--network", "none", "-t", nodeBase, "-"], `FROM ${base}\nRUN groupadd -g 1000 node && useradd -u 1000 -g 1000 -m -d /home/node node\n`);
      docker(["build", "--network", "none", "--build-arg", `BASE_IMAGE=${nodeBase}`, "-t", built, join(import.meta.dirname, "..", "worker-image")]);
      const out = docker(["run", "--rm", "--network", "none", "--entrypoint", "sh", built, "-c", "id; stat -c '%U %a' /workspace /state; echo home=$HOME; ls -d /home/*"]);
      expect(out).toContain("uid=1000(agent) gid=1000(agent)");
      expect(out).toContain("agent 755\nagent 755");
      expect(out).toContain("home=/home/agent\n/home/agent");
    } finally {
      for (const tag of [built, nodeBase]) {
        try {
          docker(["rmi", "-f", tag]);
        } catch {
          // Never built.
        }
      }
    }
  }, 120_000);
});
