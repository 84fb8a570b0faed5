/**
 * Environments on the phone, in Debian's Chromium at 390×844 against the real edge under
 * `wrangler dev` and a scripted runner: the new-task form offers the account's saved
 * environments and a setup script field, and the task the runner gets carries both; the
 * feed shows a setup step with its output, exit code and duration, the egress attempts with a
 * denial and its "Allow … for this task" button, whose click reaches the runner as an
 * `egress.allow` command and settles the denial; a second task shows the cache hit.
 * Screenshots go to test-output/screenshots/.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TetherClient } from "../shared/client/index.ts";
import { describeBrowser, launchBrowser, phoneContext, screenshot } from "./web-browser.ts";
import { WranglerEdge } from "./support/edge.ts";
import { type HeldTask, ScriptedRunner } from "./web-runner.ts";

const REPO = "https://example.com/acme/calculator.git";

describeBrowser("environments in the web app", () => {
  const edge = new WranglerEdge();
  let runner: ScriptedRunner;
  let browser: Browser;
  let token: string;
  let client: TetherClient;

  beforeAll(async () => {
    await edge.start();
    token = await edge.userToken(`web-env-${process.pid}`);
    client = new TetherClient({ baseURL: edge.url, token });
    runner = new ScriptedRunner(edge.url);
    await runner.register(token);
    await runner.connect();
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    runner?.close();
    await browser?.close();
    await edge.dispose();
  });

  async function signedIn(path: string): Promise<{ phone: BrowserContext; page: Page }> {
    const phone = await phoneContext(browser);
    await phone.addInitScript((t) => (globalThis as unknown as { localStorage: { setItem(key: string, value: string): void } }).localStorage.setItem("tether.token", t), token);
    const page = await phone.newPage();
    await page.goto(`${edge.url}${path}`);
    return { phone, page };
  }

  const end = (held: HeldTask) => held.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });

  it("the new-task form picks a saved environment and takes a setup script; the task carries both", async () => {
    const env = await client.createEnvironment({ name: "calculator (node)", repository: "https://example.com/acme/", setup: "npm ci", network: { setup: [], agent: [] }, variables: { NODE_ENV: "test" } });
    const { phone, page } = await signedIn("/new");
    await page.getByRole("heading", { name: "New task" }).waitFor();
    const select = page.getByLabel("Environment");
    await select.locator("option", { hasText: "calculator (node)" }).waitFor({ state: "attached" });
    await page.getByLabel("Repository").fill(REPO);
    await page.getByLabel("What should the agent do?").fill("Fix the failing test");
    await select.selectOption(env.id);
    await page.getByText("Setup script", { exact: true }).first().click();
    await page.getByRole("textbox", { name: "Setup script" }).fill("npm ci --ignore-scripts");
    await screenshot(page, "env-01-new-task-environment", true);
    await page.getByRole("button", { name: "Start task" }).click();
    await page.waitForURL(/\/tasks\/[^/]+$/);
    const held = await runner.take();
    expect(held.assignment.task).toMatchObject({
      setup: "npm ci --ignore-scripts",
      environment: { id: env.id, name: "calculator (node)", setup: "npm ci", variables: { NODE_ENV: "test" } },
    });
    await phone.close();
    await end(held);
  });

  it("shows setup steps, a denial whose allow button reaches the runner, the decision, the totals and a cache hit", async () => {
    const task = await client.createTask({ repo: { url: REPO }, prompt: "Run the tests" });
    const held = await runner.take();
    expect(held.id).toBe(task.id);
    const { phone, page } = await signedIn(`/tasks/${task.id}`);
    await held.emit(
      { type: "setup.step", data: { step: 1, command: "npm ci", source: "environment", state: "started" } },
      { type: "egress", data: { phase: "setup", host: "pkg.test", port: 443, allowed: true, bytes: 5120 } },
      { type: "setup.output", data: { step: 1, stream: "stdout", text: "added 12 packages in 4s\n" } },
      { type: "setup.step", data: { step: 1, command: "npm ci", source: "environment", state: "ended", exitCode: 0, durationMs: 4200 } },
      { type: "setup.done", data: { ok: true, cache: "miss", durationMs: 4300 } },
      { type: "status", data: { status: "running" } },
      { type: "egress", data: { phase: "agent", host: "pkg.test", port: 443, allowed: false, bytes: 0, reason: "not allowed in the agent phase" } },
    );
    const step = page.locator("details.setup-step", { hasText: "npm ci" });
    await step.getByText("exit 0 · 4.2 s").waitFor();
    await step.locator("summary").click();
    await step.getByText("added 12 packages in 4s").waitFor();
    await page.getByText("Setup done in 4.3 s").waitFor();
    const denial = page.locator(".egress-denied", { hasText: "pkg.test:443" });
    await denial.waitFor();
    await page.locator(".usage", { hasText: "1 allowed / 1 blocked" }).waitFor();
    await screenshot(page, "env-02-setup-and-denial", true);

    await denial.getByRole("button", { name: "Allow pkg.test for this task" }).click();
    expect(await held.nextCommand()).toMatchObject({ kind: "egress.allow", host: "pkg.test" });
    await page.locator(".egress-decision", { hasText: "Allowed pkg.test for this task" }).waitFor();
    await denial.getByText("Allowed since.").waitFor();
    expect(await denial.getByRole("button").count()).toBe(0);
    await held.emit({ type: "egress", data: { phase: "agent", host: "pkg.test", port: 443, allowed: true, bytes: 900 } });
    await page.locator(".usage", { hasText: "2 allowed / 1 blocked" }).waitFor();
    await screenshot(page, "env-03-allowed", true);
    await phone.close();
    await end(held);

    const again = await client.createTask({ repo: { url: REPO }, prompt: "Run the tests again" });
    const second = await runner.take();
    expect(second.id).toBe(again.id);
    const view = await signedIn(`/tasks/${again.id}`);
    await second.emit({ type: "setup.done", data: { ok: true, cache: "hit", durationMs: 600, savedMs: 4300 } });
    await view.page.getByText("Cache hit — setup skipped, saved 4.3 s").waitFor();
    await screenshot(view.page, "env-04-cache-hit");
    await view.phone.close();
    await end(second);
  });
});
