/**
 * What a walk through the phone web app found, each held in Debian's Chromium against the
 * real edge under `wrangler dev` and a scripted runner: an honest connection badge (offline
 * with the browser, not "Live" once frames stop or the task is over), a task page whose
 * sticky bar keeps status and cost in view without covering the summary and that opens at
 * the summary, a compact reply box, short titles, a running command's elapsed time and its
 * full text wrapped (not as JSON), a cancelled task said once with no empty diff, a branch
 * marked "not pushed", and search by repository.
 */
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TetherClient } from "../shared/client/index.ts";
import { checkScreen, describeBrowser, screenshot } from "./web-browser.ts";
import { WebSession } from "./support/web-session.ts";
import { ScriptedRunner, type HeldTask } from "./web-runner.ts";

type Globals = { scrollY: number; scrollTo(x: number, y: number): void; document: { documentElement: { scrollHeight: number } } };

describeBrowser("what the walk through the web app found", () => {
  const session = new WebSession();
  let runner: ScriptedRunner;
  let token: string;
  let client: TetherClient;

  beforeAll(async () => {
    await session.start();
    ({ token, client, runner } = await session.userWithRunner(`walk-${process.pid}`));
  }, 120_000);

  afterAll(async () => {
    await session.dispose();
  });

  const signedIn = (path: string, setUp?: (phone: BrowserContext) => Promise<void>) => session.signedIn(token, path, { setUp });

  async function runningTask(prompt: string, url = "https://example.com/acme/calculator.git"): Promise<HeldTask> {
    const task = await client.createTask({ repo: { url }, prompt });
    const held = await runner.take();
    expect(held.id).toBe(task.id);
    await held.emit({ type: "status", data: { status: "running" } });
    return held;
  }

  const badge = (page: Page) => page.locator(".task-bar .conn");

  it("the badge goes offline with the browser and when frames stop, and a finished task is not Live", async () => {
    const held = await runningTask("Keep the badge honest");
    // Every frame of the task's socket passes through here; `mute` stops those from the edge.
    let mute = false;
    const { phone, page } = await signedIn(`/tasks/${held.id}`, (ctx) =>
      ctx.routeWebSocket(/\/v1\/tasks\/[^/]+\/ws/, (ws) => {
        const server = ws.connectToServer();
        server.onMessage((message) => {
          if (!mute) ws.send(message);
        });
        ws.onMessage((message) => server.send(message));
      }),
    );
    await badge(page).getByText("Live").waitFor();
    await phone.setOffline(true);
    await badge(page).getByText(/Offline/).waitFor();
    await screenshot(page, "16-badge-offline");
    await phone.setOffline(false);
    await badge(page).getByText("Live").waitFor({ timeout: 30_000 });

    // Silent for two ping periods (20 s): the stream drops the socket. A socket opened while
    // muted lost its `replayed` and hears only pongs once unmuted: it is dropped in turn, and
    // the next one goes live.
    mute = true;
    await badge(page).getByText(/Reconnecting|Offline/).waitFor({ timeout: 60_000 });
    mute = false;
    await badge(page).getByText("Live").waitFor({ timeout: 90_000 });

    await held.emit({ type: "done", data: { ok: true, summary: "All done." } }, { type: "status", data: { status: "succeeded" } });
    await page.locator(".task-bar .pill", { hasText: "Succeeded" }).waitFor();
    await badge(page).getByText("Finished").waitFor();
    expect(await page.getByText("Live", { exact: true }).count()).toBe(0);
    await phone.close();
  }, 180_000);

  it("keeps status and cost in a bar that covers nothing, opens at the summary, and has a compact reply box", async () => {
    const held = await runningTask("Refactor the build scripts so that every package builds with esbuild and the tests run a lot faster");
    const long = `npm run build -- ${"--filter=packages/some-long-package-name ".repeat(8)}`.trim();
    const lines = Array.from({ length: 25 }, (_, i) => ({ type: "agent.text" as const, data: { turn: 0, text: `Step ${i + 1}: looked at another part of the build.` } }));
    await held.emit(
      ...lines,
      { type: "usage", data: { model: "claude-sonnet-4-5", inputTokens: 12_000, outputTokens: 800, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0.048 } },
      { type: "tool.start", data: { callID: "c1", name: "bash", input: { command: long, timeoutSeconds: 600 } } },
    );
    const { phone, page } = await signedIn(`/tasks/${held.id}`);
    await page.getByText("Step 25:").waitFor();
    await page.locator(".task-bar .bar-cost", { hasText: "$0.05" }).waitFor();

    // It opens at its summary, with the bar above the usage row, not over it.
    expect(await page.evaluate(() => (globalThis as unknown as Globals).scrollY)).toBe(0);
    const bar = (await page.locator(".task-bar").boundingBox())!;
    const usage = (await page.locator(".usage").boundingBox())!;
    expect(bar.y + bar.height).toBeLessThanOrEqual(usage.y);
    await checkScreen(page, "17-task-summary");

    // The title is the prompt's first words, cut at a word boundary.
    expect(await page.locator(".task-heading").innerText()).toBe("Refactor the build scripts so that every package builds…");

    // A running command counts its time; its full text wraps in the details, not as JSON.
    const tool = page.locator("details.tool", { hasText: "npm run build" });
    await tool.locator(".tool-state").getByText(/^running \d+ s$/).waitFor();
    await tool.locator("summary").click();
    const full = tool.locator(".tool-input", { hasText: "--filter" }).first();
    expect(await full.innerText()).toBe(long);
    expect(await full.evaluate((el) => (el as unknown as { scrollWidth: number; clientWidth: number }).scrollWidth <= (el as unknown as { clientWidth: number }).clientWidth)).toBe(true);
    expect(await tool.locator(".tool-body").innerText()).not.toContain('"command"');

    // Scrolled to the end, status and cost are still in view, in the bar at the top.
    await page.evaluate(() => (globalThis as unknown as Globals).scrollTo(0, (globalThis as unknown as Globals).document.documentElement.scrollHeight));
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as Globals).scrollY)).toBeGreaterThan(300);
    for (const part of [".task-bar .pill", ".task-bar .bar-cost"]) {
      const box = (await page.locator(part).boundingBox())!;
      expect(box.y, part).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height, part).toBeLessThanOrEqual(60);
    }
    await checkScreen(page, "17-task-scrolled");

    // On a 390 × 664 view the reply box keeps to one line until it is used.
    await page.setViewportSize({ width: 390, height: 664 });
    const composer = page.locator("form.composer");
    const closed = (await composer.boundingBox())!;
    expect(closed.height / 664).toBeLessThan(0.12);
    await page.getByLabel("Follow-up message").focus();
    await expect.poll(async () => (await composer.boundingBox())!.height).toBeGreaterThan(closed.height);
    await screenshot(page, "17-composer-open");
    await phone.close();
    await held.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });
  });

  it("says a cancel once and offers no empty diff; a branch that was not pushed says so", async () => {
    const cancelled = await runningTask("Try something, then stop");
    await client.cancelTask(cancelled.id);
    expect(await cancelled.nextCommand()).toMatchObject({ kind: "cancel" });
    await cancelled.emit(
      { type: "diff", data: { files: 0, insertions: 0, deletions: 0, artifact: "diff.patch", changedFiles: [], branch: "tether/try", pushed: false } },
      { type: "status", data: { status: "cancelled", reason: "cancelled by a user" } },
    );
    const { phone, page } = await signedIn(`/tasks/${cancelled.id}`);
    await page.locator(".task-bar .pill", { hasText: "Cancelled" }).waitFor();
    await page.getByText(/Cancel asked by/).waitFor();
    const text = await page.locator("main").innerText();
    expect(text.match(/cancel/gi)?.length, text).toBe(2);
    expect(await page.getByRole("button", { name: /Download/ }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "View changes" }).count()).toBe(0);
    await checkScreen(page, "18-task-cancelled");
    await phone.close();

    const kept = await runningTask("Make a local change");
    await kept.upload("diff.patch", "diff --git a/a.txt b/a.txt\nnew file mode 100644\n--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+a\n");
    await kept.emit(
      { type: "diff", data: { files: 1, insertions: 1, deletions: 0, artifact: "diff.patch", changedFiles: [{ path: "a.txt", insertions: 1, deletions: 0 }], branch: "tether/local", pushed: false } },
      { type: "status", data: { status: "succeeded" } },
    );
    const second = await signedIn(`/tasks/${kept.id}`);
    await second.page.locator(".task-head", { hasText: "tether/local (not pushed)" }).waitFor();
    await second.page.locator(".diff-line", { hasText: "on tether/local (not pushed)" }).waitFor();
    await second.page.getByRole("button", { name: "Download diff.patch" }).waitFor();
    await second.phone.close();
  });

  it("finds tasks by the repository's name", async () => {
    const held = await runningTask("Speed up the slow endpoint", "https://example.com/acme/ledger-service.git");
    const { phone, page } = await signedIn("/");
    await page.getByLabel("Search tasks").fill("ledger-service");
    await expect.poll(async () => (await page.locator(".task-card .task-title").allInnerTexts())).toEqual(["Speed up the slow endpoint"]);
    await phone.close();
    await held.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });
  });
});
