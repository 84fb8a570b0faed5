/**
 * Environments on the phone, in Debian's Chromium at 390×844 against the real edge under
 * `wrangler dev` and a scripted runner: the environments screens list, create (each
 * validation message at its field), edit and delete a saved environment, its image included,
 * each screen held to the phone's rules (axe-core, 44 px targets); the new-task form offers the account's saved
 * environments and a setup script field, and the task the runner gets carries both; the
 * feed shows a setup step with its output, exit code and duration, the egress attempts with a
 * denial and its "Allow … for this task" button, whose click reaches the runner as an
 * `egress.allow` command and settles the denial; a second task shows the cache hit.
 * Screenshots go to test-output/screenshots/.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { TetherClient } from "../shared/client/index.ts";
import { checkScreen, describeBrowser, screenshot } from "./web-browser.ts";
import { WebSession } from "./support/web-session.ts";
import { type HeldTask, ScriptedRunner } from "./web-runner.ts";

const REPO = "https://example.com/acme/calculator.git";

describeBrowser("environments in the web app", () => {
  const session = new WebSession();
  const edge = session.edge;
  let runner: ScriptedRunner;
  let token: string;
  let client: TetherClient;

  beforeAll(async () => {
    await session.start();
    ({ token, client, runner } = await session.userWithRunner(`web-env-${process.pid}`));
  }, 120_000);

  afterAll(async () => {
    await session.dispose();
  });

  const signedIn = (path: string) => session.signedIn(token, path);

  const end = (held: HeldTask) => held.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });

  it("the environments screens list, create with each error at its field, edit, pick in the new-task form and delete an environment", async () => {
    const { phone, page } = await signedIn("/settings");
    await page.getByRole("link", { name: "Environments" }).click();
    await page.getByRole("heading", { name: "Environments" }).waitFor();
    await page.getByText("No environment yet.", { exact: false }).waitFor();
    await checkScreen(page, "env-05-list-empty");

    await page.getByRole("link", { name: "New", exact: true }).click();
    await page.getByRole("heading", { name: "New environment" }).waitFor();
    await page.getByLabel("Hosts the setup may reach").fill("registry.example.test\nhttp://not-a-host/");
    await page.getByLabel("Variables").fill("NODE_ENV=test\nGITHUB_TOKEN=x");
    await page.getByLabel("Image").fill("Not An Image");
    await page.getByRole("button", { name: "Save environment" }).click();
    await expect.poll(() => page.locator("#e-name").textContent()).toBe("Give the environment a name.");
    expect(await page.locator("#e-repository").textContent()).toBe("Give a repository URL prefix, or a pattern with *.");
    expect(await page.locator("#e-setupHosts").textContent()).toBe('"http://not-a-host/" is not a host, *.domain or host:port.');
    expect(await page.locator("#e-variables").textContent()).toMatch(/^GITHUB_TOKEN: looks like a secret/);
    expect(await page.locator("#e-image").textContent()).toBe("Write an image reference such as node:22 or registry.example:5000/team/node:22.");
    expect(await page.getByLabel("Name").getAttribute("aria-invalid")).toBe("true");
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe("f-name");
    await checkScreen(page, "env-06-form-errors");

    await page.getByLabel("Name").fill("calculator (alt image)");
    await page.getByLabel("Repository match").fill("https://example.com/acme/calc");
    await page.getByLabel("Setup script").fill("npm ci");
    await page.getByLabel("Hosts the setup may reach").fill("registry.example.test");
    await page.getByLabel("Hosts the agent may reach").fill("api.example.test:8443");
    await page.getByLabel("Variables").fill("NODE_ENV=test\nCI=1");
    await page.getByLabel("Image").fill("tether-worker:envs-alt");
    await page.getByRole("button", { name: "Save environment" }).click();
    const card = page.locator("a.env-card", { hasText: "calculator (alt image)" });
    await card.waitFor();
    await card.getByText("tether-worker:envs-alt").waitFor();
    await card.getByText("1 setup · 1 agent").waitFor();
    await checkScreen(page, "env-07-list");
    const [saved] = await client.listEnvironments();
    expect(saved).toMatchObject({
      name: "calculator (alt image)",
      repository: "https://example.com/acme/calc",
      setup: "npm ci",
      network: { setup: ["registry.example.test"], agent: ["api.example.test:8443"] },
      variables: { NODE_ENV: "test", CI: "1" },
      image: "tether-worker:envs-alt",
    });

    await card.click();
    await page.getByRole("heading", { name: "Edit environment" }).waitFor();
    expect(await page.getByLabel("Variables").inputValue()).toBe("NODE_ENV=test\nCI=1");
    await page.getByLabel("Setup script").fill("npm ci --ignore-scripts");
    await checkScreen(page, "env-08-edit");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("heading", { name: "Environments" }).waitFor();
    expect((await client.listEnvironments())[0]!.setup).toBe("npm ci --ignore-scripts");

    await page.goto(`${edge.url}/new`);
    const select = page.getByLabel("Environment");
    await select.locator("option", { hasText: "calculator (alt image)" }).waitFor({ state: "attached" });
    await page.getByLabel("Repository").fill(REPO);
    await page.getByLabel("What should the agent do?").fill("Fix the failing test");
    await select.selectOption(saved!.id);
    await page.getByRole("button", { name: "Start task" }).click();
    await page.waitForURL(/\/tasks\/[^/]+$/);
    const held = await runner.take();
    expect(held.assignment.task.environment).toMatchObject({ id: saved!.id, setup: "npm ci --ignore-scripts", image: "tether-worker:envs-alt" });
    await end(held);

    await page.goto(`${edge.url}/environments/${saved!.id}`);
    await page.getByRole("button", { name: "Delete environment" }).click();
    const confirm = page.getByRole("group", { name: "Confirm deleting calculator (alt image)" });
    await confirm.waitFor();
    await confirm.evaluate((el) => (el as unknown as { scrollIntoView(options: unknown): void }).scrollIntoView({ block: "center" }));
    await checkScreen(page, "env-09-delete-confirm");
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByText("No environment yet.", { exact: false }).waitFor();
    expect(await client.listEnvironments()).toEqual([]);
    await phone.close();
  });

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
