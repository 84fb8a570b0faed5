/**
 * The phone web app on the whole local stack: the edge under `wrangler dev`, the real
 * `tether-runner` with its Docker sandbox and the worker image, and the stand-in model
 * playing "fix the failing test" then a follow-up. Driven from Chromium at 390×844: sign in
 * with the login link, create the task, watch the agent's real events arrive, send a
 * follow-up, cancel, open the diff the runner published.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TetherClient } from "../shared/client/index.ts";
import { type FakeModel, startFakeModel } from "./fake-model/index.ts";
import { createFixtureRepo, FIX_SUMMARY, fixTheFailingTestScript, followUpScript } from "./fake-model/scripts.ts";
import { describeDocker } from "./support/docker.ts";
import { describeBrowser, launchBrowser, phoneContext, screenshot } from "./web-browser.ts";
import { WranglerEdge } from "./support/edge.ts";

const ROOT = join(import.meta.dirname, "..");
const RUNNER_BIN = join(ROOT, "runner", "bin", "tether-runner.js");

describeDocker("web app on the whole stack", () => {
  describeBrowser("web app with the real runner, Docker and the stand-in model", () => {
    const edge = new WranglerEdge();
    const home = mkdtempSync(join(tmpdir(), "tether-web-runner-"));
    let model: FakeModel;
    let runner: ChildProcess | undefined;
    let browser: Browser;
    let page: Page;
    let token: string;
    let repo: string;

    const runnerEnv = () => ({
      PATH: process.env.PATH ?? "",
      HOME: home,
      TETHER_RUNNER_HOME: home,
      TETHER_ALLOW_LOCAL_REPOS: "true",
      ANTHROPIC_API_KEY: "sk-ant-test-only",
      ANTHROPIC_BASE_URL: model.url!,
      TETHER_LOG_LEVEL: "warn",
    });

    beforeAll(async () => {
      await edge.start();
      token = await edge.userToken("stack-user");
      model = await startFakeModel({ script: [...fixTheFailingTestScript(), ...followUpScript()], listen: { port: 0 } });
      repo = join(mkdtempSync(join(tmpdir(), "tether-web-repo-")), "calculator");
      await createFixtureRepo(repo, { git: true });
      const client = new TetherClient({ baseURL: edge.url, token });
      const registration = await client.createRegistrationToken();
      execFileSync(process.execPath, [RUNNER_BIN, "register", "--edge", edge.url, "--token", registration.token, "--name", "phone-test"], { env: runnerEnv(), stdio: "pipe" });
      runner = spawn(process.execPath, [RUNNER_BIN, "start"], { env: runnerEnv(), stdio: ["ignore", "ignore", "inherit"] });
      const deadline = Date.now() + 60_000;
      while (!(await client.listRunners()).some((r) => r.online)) {
        if (Date.now() > deadline) throw new Error("the runner did not come online within 60 s");
        await new Promise((r) => setTimeout(r, 250));
      }
      browser = await launchBrowser();
      page = await (await phoneContext(browser)).newPage();
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      if (runner && runner.exitCode === null) {
        runner.kill("SIGTERM");
        await new Promise((r) => runner!.once("exit", r));
      }
      const runnerID = readRunnerID(home);
      if (runnerID) {
        const docker = new Docker();
        for (const c of await docker.listContainers({ all: true, filters: { label: [`tether.runner=${runnerID}`] } })) {
          await docker.getContainer(c.Id).remove({ force: true });
        }
      }
      await model?.close();
      await edge.dispose();
    });

    it("runs a task from the phone: create, watch, follow up, cancel, diff", async () => {
      await page.goto(`${edge.url}/#token=${token}`);
      await page.getByRole("link", { name: "New task" }).click();
      await page.getByLabel("Repository").fill(repo);
      await page.getByLabel("What should the agent do?").fill("The test fails. Fix it.");
      await page.getByRole("button", { name: "Start task" }).click();
      await page.waitForURL(/\/tasks\/[^/]+$/);

      // The agent's own events, relayed by the runner from the container.
      await page.getByText(FIX_SUMMARY).waitFor({ timeout: 90_000 });
      await page.locator(".task-bar .pill", { hasText: "Waiting for you" }).waitFor();
      await page.locator(".conn", { hasText: "Live" }).waitFor();
      const tests = page.locator("details.tool", { hasText: "node test.js" });
      await expect.poll(() => tests.count()).toBe(2);
      await tests.nth(0).getByText(/failed|exit/).first().waitFor();
      await tests.nth(1).locator("summary").click();
      await tests.nth(1).getByText("ok: add(2, 3) is 5").waitFor();
      await page.locator(".file-change", { hasText: "math.js" }).first().waitFor();
      await screenshot(page, "stack-01-task-waiting");

      await page.getByLabel("Follow-up message").fill("Add a subtraction helper.");
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByText("Added sub.js.").waitFor({ timeout: 60_000 });
      await page.locator(".task-bar .pill", { hasText: "Waiting for you" }).waitFor({ timeout: 30_000 });

      await page.getByRole("button", { name: "Cancel task" }).click();
      await page.getByRole("button", { name: "Yes, cancel" }).click();
      await page.locator(".task-bar .pill", { hasText: "Cancelled" }).waitFor({ timeout: 60_000 });
      await screenshot(page, "stack-02-cancelled");

      await page.getByRole("link", { name: /Changes/ }).click();
      const math = page.locator("details.diff-file", { hasText: "math.js" });
      await math.waitFor({ timeout: 30_000 });
      expect((await math.locator(".dl-add").allInnerTexts()).join("\n")).toContain("return a + b;");
      expect((await math.locator(".dl-del").allInnerTexts()).join("\n")).toContain("return a - b;");
      await page.locator("details.diff-file", { hasText: "sub.js" }).locator(".change-added").waitFor();
      await screenshot(page, "stack-03-diff");
    }, 240_000);
  });
});

function readRunnerID(home: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(home, "config.json"), "utf8")) as { runnerID?: string }).runnerID;
  } catch {
    return undefined;
  }
}
