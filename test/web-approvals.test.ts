/**
 * Approvals on the phone, on the whole local stack (the edge under `wrangler dev`, the real
 * `tether-runner` with Docker and the worker image, the stand-in model), driven from
 * Chromium at 390×844: a task in ask mode asks, the phone answers from the card and the task
 * goes on; the same with the phone offline while the runner restarts; a plan edited from the
 * card. Every approval screen is held to the phone's rules (axe-core, 44 px targets).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ASK_ANSWER, PLAN_ANSWER, PLAN_TEXT } from "./support/e2e-model.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import type { RunnerProcess } from "./support/runner-process.ts";
import { checkScreen, describeBrowser, launchBrowser, signedInPage } from "./web-browser.ts";

describeDocker("approvals on the phone", () => {
  describeBrowser("approvals on the phone with the real runner, Docker and the stand-in model", () => {
    const stack = new E2EStack();
    let runner: RunnerProcess;
    let browser: Browser;

    beforeAll(async () => {
      await stack.start();
      runner = await stack.addRunner({ name: "phone-approvals", capacity: 3, push: true });
      browser = await launchBrowser();
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      await stack.dispose();
    }, 120_000);

    const signedIn = (path: string) => signedInPage(browser, stack.edge.url, stack.token, path);

    const card = (page: Page, heading: string) => page.getByRole("region", { name: heading });
    const pill = (page: Page, text: string) => page.locator(".task-bar .pill", { hasText: text });

    it("asks from the new-task form, shows Needs you, and the phone's answers let the task go on", async () => {
      const { phone, page } = await signedIn("/new");
      await page.getByLabel("Repository").fill(stack.repo.url);
      await page.getByLabel("What should the agent do?").fill("[e2e:ask] From the phone.");
      await page.getByLabel("How it runs").selectOption("ask");
      await page.getByRole("button", { name: "Start task" }).click();
      await page.waitForURL(/\/tasks\/[^/]+$/);
      const taskID = decodeURIComponent(page.url().split("/tasks/")[1]!);
      expect((await stack.phone.task(taskID)).mode).toBe("ask");

      const command = card(page, "The agent wants to run a command");
      await command.waitFor({ timeout: 120_000 });
      await command.locator(".approval-subject").getByText("echo asked > asked.txt").waitFor();
      await checkScreen(page, "approvals-01-command-card");

      await page.getByRole("link", { name: "Back to tasks" }).click();
      const listed = page.locator(`.task-card[data-task-id="${taskID}"]`);
      await listed.getByText("Needs you").waitFor();
      await checkScreen(page, "approvals-02-list-needs-you");
      await listed.click();

      await command.getByRole("button", { name: "Yes", exact: true }).click();
      const write = card(page, "The agent wants to write a file");
      await write.waitFor({ timeout: 60_000 });
      await write.locator(".approval-subject").getByText("written.txt").waitFor();
      await write.getByRole("button", { name: "No", exact: true }).click();
      await page.getByText(ASK_ANSWER).waitFor({ timeout: 60_000 });
      await pill(page, "Waiting for you").waitFor();
      expect(await page.getByRole("region", { name: /The agent wants/ }).count()).toBe(0);
      await page.getByText("Allowed a command (e2e-user)").waitFor();
      await page.getByText("Declined a file write (e2e-user)").waitFor();
      expect((await stack.phone.task(taskID)).pendingApproval).toBeNull();
      await phone.close();
    }, 300_000);

    it("the phone offline until after a runner restart: the card is still there and its answer reaches the worker", async () => {
      const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:ask] Phone offline.", mode: "ask" });
      const { phone, page } = await signedIn(`/tasks/${task.id}`);
      const command = card(page, "The agent wants to run a command");
      await command.waitFor({ timeout: 120_000 });
      await phone.setOffline(true);
      await page.locator(".task-bar .conn").getByText(/Offline/).waitFor();
      await runner.kill9();
      await runner.start(stack.token);
      await phone.setOffline(false);
      await page.locator(".task-bar .conn").getByText("Live").waitFor({ timeout: 60_000 });
      await command.getByRole("button", { name: /^Always/ }).click();
      const write = card(page, "The agent wants to write a file");
      await write.waitFor({ timeout: 60_000 });
      await write.getByRole("button", { name: "Yes", exact: true }).click();
      await page.getByText(ASK_ANSWER).waitFor({ timeout: 90_000 });
      await pill(page, "Waiting for you").waitFor();
      await page.getByText("Always allowed a command (e2e-user)").waitFor();
      const events = await stack.phone.events(task.id);
      expect(events.find((e) => e.type === "tool.end" && e.data.callID === "toolu_ask_cmd")?.data).toMatchObject({ ok: true });
      expect(events.find((e) => e.type === "tool.end" && e.data.callID === "toolu_ask_write")?.data).toMatchObject({ ok: true });
      await phone.close();
    }, 300_000);

    it("a plan is approved after an edit from the card", async () => {
      const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:plan] Plan on the phone.", mode: "plan" });
      const { phone, page } = await signedIn(`/tasks/${task.id}`);
      const plan = card(page, "The agent proposes a plan");
      await plan.waitFor({ timeout: 120_000 });
      await plan.getByText(PLAN_TEXT).waitFor();
      await checkScreen(page, "approvals-03-plan-card");
      await plan.getByRole("button", { name: "Edit" }).click();
      await plan.getByLabel("The plan").fill(`${PLAN_TEXT}\n2. Nothing else.`);
      await checkScreen(page, "approvals-04-plan-edit");
      await plan.getByRole("button", { name: "Send edited plan" }).click();
      await page.getByText(PLAN_ANSWER).waitFor({ timeout: 90_000 });
      await page.getByText("Edited and approved the plan (e2e-user)").waitFor();
      const events = await stack.phone.events(task.id);
      expect(events.find((e) => e.type === "approval.answered")?.data).toMatchObject({ decision: "edit", text: `${PLAN_TEXT}\n2. Nothing else.`, by: "e2e-user" });
      await phone.close();
    }, 300_000);
  });
});
