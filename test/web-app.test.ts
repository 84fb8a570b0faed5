/**
 * The phone web app in Debian's Chromium at 390×844, against the real edge under
 * `wrangler dev` and a scripted runner that speaks the real runner protocol: sign in,
 * create a task, watch its events arrive, send a follow-up, open the diff, cancel a task,
 * search the list, and the connection indicator while the edge goes away and comes back.
 * Each test creates the tasks it looks at and opens its own page. Screenshots of each screen
 * go to test-output/screenshots/.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import jsQR from "jsqr";
import type { Browser, Page } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TetherClient } from "../shared/client/index.ts";
import { SCREENSHOTS, checkScreen, describeBrowser, phoneContext, screenshot } from "./web-browser.ts";
import { WebSession } from "./support/web-session.ts";
import { ScriptedRunner, type HeldTask } from "./web-runner.ts";

const PATCH = `diff --git a/src/math.ts b/src/math.ts
index 1111111..2222222 100644
--- a/src/math.ts
+++ b/src/math.ts
@@ -1,3 +1,3 @@
 export function add(a: number, b: number): number {
-  return a - b;
+  return a + b;
 }
diff --git a/test/math.test.ts b/test/math.test.ts
new file mode 100644
--- /dev/null
+++ b/test/math.test.ts
@@ -0,0 +1,2 @@
+import { add } from "../src/math";
+test("adds", () => expect(add(2, 2)).toBe(4));
`;

describeBrowser("web app against the edge in wrangler dev", () => {
  const session = new WebSession();
  const edge = session.edge;
  let runner: ScriptedRunner;
  let browser: Browser;
  let token: string;
  let client: TetherClient;
  let users = 0;
  /** What any page's Content-Security-Policy refused: must stay empty. */
  const blocked: string[] = [];

  beforeAll(async () => {
    await session.start();
    browser = session.browser;
    ({ token, client, runner } = await session.userWithRunner(`web-${process.pid}`));
  }, 120_000);

  afterAll(async () => {
    await session.dispose();
  });

  /** A phone context of its own with the user signed in (the token in its storage) on `path`. */
  const signedIn = (path = "/", as = token) =>
    session.signedIn(as, path, {
      onPage: (page) =>
        page.on("console", (message) => {
          if (message.type() === "error" && /Content Security Policy/i.test(message.text())) blocked.push(message.text());
        }),
    });

  /** A new task of this user's, held by the scripted runner and running. */
  async function runningTask(prompt: string, on = runner, as = client): Promise<HeldTask> {
    const task = await as.createTask({ repo: { url: "https://example.com/acme/calculator.git" }, prompt });
    const held = await on.take();
    expect(held.id).toBe(task.id);
    await held.emit({ type: "status", data: { status: "running" } });
    return held;
  }

  it("refuses a bad token, then signs in with a pasted one", async () => {
    // A user of their own, so the list is empty.
    const newcomer = await edge.userToken(`web-${process.pid}-${++users}`);
    const phone = await phoneContext(browser);
    const page = await phone.newPage();
    await page.goto(edge.url);
    await expect.poll(() => page.getByRole("heading", { name: "Tether" }).isVisible()).toBe(true);
    await screenshot(page, "01-sign-in");
    await page.getByLabel("Your token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("The edge refused this token").waitFor();
    await page.getByLabel("Your token").fill(newcomer);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    await page.getByText("No tasks yet.").waitFor();
    await page.getByText("No runner is online").waitFor();
    await checkScreen(page, "02-task-list-empty");
    await phone.close();
  });

  it("signs in from the login link and takes the token out of the address bar", async () => {
    const other = await phoneContext(browser);
    const p = await other.newPage();
    await p.goto(`${edge.url}/#token=${token}`);
    await p.getByRole("heading", { name: "Tasks" }).waitFor();
    expect(p.url()).toBe(`${edge.url}/`);
    expect(await p.evaluate(() => (globalThis as unknown as BrowserGlobals).localStorage.getItem("tether.token"))).toBe(token);
    await other.close();
  });

  it("checks the new-task form with the shared schema, then creates the task", async () => {
    const { phone, page } = await signedIn();
    await page.getByRole("link", { name: "New task" }).click();
    await page.getByRole("heading", { name: "New task" }).waitFor();
    await checkScreen(page, "03-new-task");
    await page.getByRole("button", { name: "Start task" }).click();
    await page.getByText("Give the repository to work on.").waitFor();
    await page.getByText("Say what the agent should do.").waitFor();
    expect(await page.getByLabel("Repository").getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("Repository").fill("ftp://example.com/demo");
    await page.getByLabel("What should the agent do?").fill("Fix the failing test in src/math.ts");
    await page.getByText("Model, effort, limits and runner labels").click();
    await page.getByLabel("Max turns").fill("0");
    await page.getByRole("button", { name: "Start task" }).click();
    await page.getByText("a git URL (https, ssh, git@, file or an absolute path)").waitFor();
    await page.getByText("At least 1.").waitFor();
    await screenshot(page, "03-new-task-errors", true);

    await page.getByLabel("Repository").fill("https://example.com/acme/calculator.git");
    await page.getByLabel("Branch or commit").fill("main");
    await page.getByLabel("Max turns").fill("20");
    await page.getByLabel("Max cost (USD)").fill("2.5");
    await page.getByLabel("Effort").selectOption("low");
    await page.getByRole("button", { name: "Start task" }).click();
    await page.waitForURL(/\/tasks\/[^/]+$/);
    const held = await runner.take();
    expect(held.assignment.task).toMatchObject({
      prompt: "Fix the failing test in src/math.ts",
      repo: { url: "https://example.com/acme/calculator.git", ref: "main" },
      limits: { maxTurns: 20, maxCostUSD: 2.5 },
      effort: "low",
    });
    expect(page.url()).toBe(`${edge.url}/tasks/${held.id}`);
    await phone.close();
    await end(held);
  });

  it("shows the agent's work live: streamed text, a tool call with coloured output, a file edit, usage", async () => {
    const first = await runningTask("Fix the failing test in src/math.ts");
    const { phone, page } = await signedIn(`/tasks/${first.id}`);
    await badge(page, "Live");
    await first.emit({ type: "agent.text.delta", data: { turn: 0, text: "Let me run " } });
    await page.getByText("Let me run").waitFor();
    await first.emit(
      { type: "agent.text.delta", data: { turn: 0, text: "the tests first." } },
      { type: "agent.text", data: { turn: 0, text: "Let me run the tests first." } },
      { type: "agent.thinking", data: { turn: 0, text: "The test expects 5 from add(2, 3).\nSo add must return a + b." } },
      { type: "tool.start", data: { callID: "c1", name: "bash", input: { command: "npm test" } } },
      { type: "tool.output", data: { callID: "c1", stream: "stdout", text: "\u001b[31m✗ adds\u001b[0m expected 4, got 0\n<b>not bold</b>\n" } },
      { type: "tool.end", data: { callID: "c1", ok: false, summary: "1 test failed", exitCode: 1 } },
      { type: "tool.start", data: { callID: "c2", name: "str_replace", input: { path: "src/math.ts", old: "a - b", new: "a + b" } } },
      { type: "tool.end", data: { callID: "c2", ok: true, summary: "edited src/math.ts" } },
      { type: "file.changed", data: { path: "src/math.ts", change: "modified" } },
      { type: "usage", data: { model: "claude-sonnet-4-5", inputTokens: 12_000, outputTokens: 800, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0.048 } },
      { type: "agent.text", data: { turn: 0, text: "Fixed: `add` subtracted. Shall I also add a test?" } },
      { type: "turn.end", data: { turn: 0, stopReason: "end_turn" } },
      { type: "status", data: { status: "waiting" } },
    );
    await page.getByText("Shall I also add a test?").waitFor();
    expect(await page.getByText("Let me run the tests first.").count()).toBe(1);
    const bash = page.locator("details.tool", { hasText: "npm test" });
    await bash.getByText("failed (exit 1)").waitFor();
    await bash.locator("summary").click();
    const red = bash.locator(".terminal span[style]", { hasText: "✗ adds" });
    expect(await red.evaluate((el) => (globalThis as unknown as BrowserGlobals).getComputedStyle(el).color)).toBe("rgb(248, 113, 113)");
    await bash.getByText("<b>not bold</b>").waitFor();
    expect(await bash.locator(".terminal b").count()).toBe(0);
    await page.locator(".file-change", { hasText: "src/math.ts" }).waitFor();
    // The agent's reasoning: collapsed to its first line beside the tool calls, readable when opened.
    const reasoning = page.locator("details.thinking");
    await reasoning.locator("summary", { hasText: "The test expects 5 from add(2, 3)." }).waitFor();
    expect(await reasoning.getAttribute("open")).toBeNull();
    expect(await reasoning.getByText("So add must return a + b.").isVisible()).toBe(false);
    await reasoning.locator("summary").click();
    await reasoning.getByText("So add must return a + b.").waitFor();
    await page.locator(".pill", { hasText: "Waiting for you" }).first().waitFor();
    await page.locator(".usage", { hasText: "$0.05" }).waitFor();
    await checkScreen(page, "04-task-live");
    await screenshot(page, "04-task-live-full", true);
    await page.emulateMedia({ colorScheme: "dark" });
    await checkScreen(page, "04-task-live-dark");
    await phone.close();
    await end(first);
  });

  it("sends a follow-up and a finish that reach the runner, and shows the end of the task", async () => {
    const first = await runningTask("Fix the failing test in src/math.ts");
    await first.emit(
      { type: "agent.text", data: { turn: 0, text: "Fixed: `add` subtracted. Shall I also add a test?" } },
      { type: "turn.end", data: { turn: 0, stopReason: "end_turn" } },
      { type: "status", data: { status: "waiting" } },
    );
    const { phone, page } = await signedIn(`/tasks/${first.id}`);
    await page.getByText("Shall I also add a test?").waitFor();
    await page.getByLabel("Follow-up message").fill("Yes, add a test please");
    await page.getByRole("button", { name: "Send" }).click();
    const command = await first.nextCommand();
    expect(command).toMatchObject({ kind: "message", text: "Yes, add a test please" });
    await page.locator(".bubble.user", { hasText: "Yes, add a test please" }).waitFor();
    await expect.poll(() => page.getByLabel("Follow-up message").inputValue()).toBe("");
    await first.emit(
      { type: "status", data: { status: "running" } },
      { type: "agent.text", data: { turn: 1, text: "Added test/math.test.ts." } },
      { type: "turn.end", data: { turn: 1, stopReason: "end_turn" } },
      { type: "status", data: { status: "waiting" } },
    );
    await page.getByRole("button", { name: "Finish: make the diff" }).click();
    expect(await first.nextCommand()).toMatchObject({ kind: "finish" });
    await page.getByText(/Finish asked by/).waitFor();
    await succeed(first);
    await page.locator(".task-bar .pill", { hasText: "Succeeded" }).waitFor();
    await page.getByText("Fixed add() and added a test.").waitFor();
    expect(await page.getByLabel("Follow-up message").count()).toBe(0);
    await checkScreen(page, "05-task-done");
    await phone.close();
  });

  it("opens the diff per file with added and removed lines", async () => {
    const first = await runningTask("Fix the failing test in src/math.ts");
    await succeed(first);
    const { phone, page } = await signedIn(`/tasks/${first.id}`);
    await page.getByRole("link", { name: /Changes/ }).click();
    await page.waitForURL(/\/diff$/);
    await page.getByText("2 files changed").waitFor();
    const math = page.locator("details.diff-file", { hasText: "src/math.ts" });
    expect(await math.locator(".dl-del .code").innerText()).toContain("return a - b;");
    expect(await math.locator(".dl-add .code").innerText()).toContain("return a + b;");
    const added = page.locator("details.diff-file", { hasText: "test/math.test.ts" });
    await added.locator(".change-added").waitFor();
    expect(await added.locator(".dl-add").count()).toBe(2);
    await checkScreen(page, "06-diff");
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download diff.patch" }).click()]);
    expect(download.suggestedFilename()).toBe(`${first.id}-diff.patch`);
    expect(readFileSync(await download.path(), "utf8")).toBe(PATCH);
    await phone.close();
  });

  it("cancels a task from its page", async () => {
    const held = await runningTask("Refactor the build scripts");
    await held.emit({ type: "log", data: { level: "info", message: "cloned" } });
    const { phone, page } = await signedIn(`/tasks/${held.id}`);
    await badge(page, "Live");
    await page.getByRole("button", { name: "Cancel task" }).click();
    await screenshot(page, "07-cancel-confirm");
    await page.getByRole("button", { name: "Yes, cancel" }).click();
    expect(await held.nextCommand()).toMatchObject({ kind: "cancel" });
    await held.emit({ type: "status", data: { status: "cancelled", reason: "cancelled by the user" } });
    await page.locator(".task-bar .pill", { hasText: "Cancelled" }).waitFor();
    await page.getByRole("link", { name: "Back to tasks" }).click();
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    await phone.close();
  });

  it("lists tasks with their status, and searches and filters them", async () => {
    // A user of their own with exactly two tasks: one cancelled, one succeeded.
    const user = await edge.userToken(`web-${process.pid}-${++users}`);
    const own = new ScriptedRunner(edge.url);
    await own.register(user);
    await own.connect();
    const userClient = new TetherClient({ baseURL: edge.url, token: user });
    const fixed = await runningTask("Fix the failing test in src/math.ts", own, userClient);
    await succeed(fixed);
    const refactor = await runningTask("Refactor the build scripts", own, userClient);
    await refactor.emit({ type: "status", data: { status: "cancelled", reason: "cancelled by the user" } });
    const { phone, page } = await signedIn("/", user);
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    const cards = page.locator(".task-card");
    await expect.poll(() => cards.count()).toBe(2);
    await cards.filter({ hasText: "Refactor the build scripts" }).locator(".pill", { hasText: "Cancelled" }).waitFor();
    await cards.filter({ hasText: "Fix the failing test" }).locator(".pill", { hasText: "Succeeded" }).waitFor();
    await checkScreen(page, "08-task-list");
    await page.getByLabel("Search tasks").fill("failing");
    await expect.poll(() => cards.count()).toBe(1);
    await page.getByLabel("Search tasks").fill("");
    await expect.poll(() => cards.count()).toBe(2);
    await page.getByLabel("Status").selectOption("cancelled");
    await expect.poll(async () => (await cards.allInnerTexts()).map((t) => t.split("\n")[0])).toEqual(["Refactor the build scripts"]);
    await page.getByLabel("Status").selectOption("");
    await expect.poll(() => cards.count()).toBe(2);
    await phone.close();
    own.close();
  });

  it("updates a task's status in the list while it runs", async () => {
    const { phone, page } = await signedIn("/");
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    const task = await client.createTask({ repo: { url: "https://example.com/acme/api.git" }, prompt: "Speed up the slow endpoint" });
    const held = await runner.take();
    expect(held.id).toBe(task.id);
    const card = page.locator(".task-card", { hasText: "Speed up the slow endpoint" });
    await card.waitFor();
    await held.emit({ type: "status", data: { status: "running" } });
    await card.locator(".pill", { hasText: "Running" }).waitFor({ timeout: 15_000 });
    await phone.close();
    await end(held);
  });

  it("tells the truth about the connection while the edge goes away and comes back", async () => {
    const held = await runningTask("Keep going while the edge restarts");
    const { phone, page } = await signedIn(`/tasks/${held.id}`);
    await badge(page, "Live");
    const feed = page.locator(".feed > li");
    await held.emit({ type: "agent.text", data: { turn: 0, text: "Before the edge went away." } });
    await page.getByText("Before the edge went away.").waitFor();
    const before = await feed.count();
    await edge.stop();
    await badge(page, /Reconnecting|Offline/, 30_000);
    await screenshot(page, "09-reconnecting");
    await edge.start();
    await runner.connect();
    await badge(page, "Live", 60_000);
    await held.emit({ type: "agent.text", data: { turn: 0, text: "Back after the edge restarted." } });
    await page.getByText("Back after the edge restarted.").waitFor();
    // The feed caught up without replaying what it had: one new item, nothing twice.
    expect(await feed.count()).toBe(before + 1);
    expect(await page.getByText("Before the edge went away.").count()).toBe(1);
    await screenshot(page, "10-live-again");
    await phone.close();
    await end(held);
  }, 120_000);

  it("is installable: manifest, icons and a service worker for the shell", async () => {
    const { phone, page } = await signedIn("/");
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    const manifest = (await (await fetch(`${edge.url}/manifest.webmanifest`)).json()) as { icons: Array<{ src: string; type: string; sizes: string }> };
    expect(manifest).toMatchObject({ name: "Tether", display: "standalone", start_url: "/" });
    // An installable app needs at least a 192 px and a 512 px icon, each served with its type.
    expect(manifest.icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(["192x192", "512x512"]));
    for (const icon of manifest.icons) {
      const res = await fetch(`${edge.url}${icon.src}`);
      expect(res.status, icon.src).toBe(200);
      expect(res.headers.get("content-type"), icon.src).toContain(icon.type.split("+")[0]);
      if (icon.type === "image/png") {
        const { width, height } = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
        expect(`${width}x${height}`, icon.src).toBe(icon.sizes);
      }
    }
    const scope = await page.evaluate(async () => (await (globalThis as unknown as BrowserGlobals).navigator.serviceWorker.ready).scope);
    expect(scope).toBe(`${edge.url}/`);
    // With the network gone the shell still opens from the service worker's cache.
    await phone.setOffline(true);
    await page.goto(`${edge.url}/`);
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    await page.getByText("cannot reach the edge").waitFor();
    await screenshot(page, "12-offline-shell");
    await phone.setOffline(false);
    expect(blocked).toEqual([]);
    const html = await (await fetch(`${edge.url}/tasks/anything`)).text();
    expect(html).toContain('<meta charset="utf-8">');
    await phone.close();
  });

  it("shows the login link as a QR code on a desktop", async () => {
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await desktop.newPage();
    await p.goto(`${edge.url}/#token=${token}`);
    await p.getByRole("link", { name: "Settings" }).click();
    await p.getByRole("button", { name: "Open on phone" }).click();
    const qr = p.getByRole("img", { name: "QR code of your login link" });
    await qr.waitFor();
    expect((await qr.locator("path").getAttribute("d"))?.length).toBeGreaterThan(1000);
    await screenshot(p, "11-desktop-qr");
    // Read the code back from the pixels, as a phone's camera does.
    const png = PNG.sync.read(await qr.screenshot({ path: join(SCREENSHOTS, "11-qr-only.png") }));
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(`${edge.url}/#token=${token}`);
    await desktop.close();
  });
});

/** What the page functions above use of the browser (this file is type-checked without the DOM lib). */
type BrowserGlobals = {
  localStorage: { getItem(key: string): string | null };
  getComputedStyle(el: unknown): { color: string };
  navigator: { serviceWorker: { ready: Promise<{ scope: string }> } };
};

/** The runner's end of a task that succeeded with a two-file diff. */
async function succeed(held: HeldTask): Promise<void> {
  await held.upload("diff.patch", PATCH);
  await held.emit(
    { type: "done", data: { ok: true, summary: "Fixed add() and added a test." } },
    {
      type: "diff",
      data: {
        files: 2,
        insertions: 3,
        deletions: 1,
        artifact: "diff.patch",
        changedFiles: [
          { path: "src/math.ts", insertions: 1, deletions: 1 },
          { path: "test/math.test.ts", insertions: 2, deletions: 0 },
        ],
        branch: "tether/fix-add",
      },
    },
    { type: "status", data: { status: "succeeded" } },
  );
}

/** Ends a test's task, so the runner's four slots stay free for the next test. */
async function end(held: HeldTask): Promise<void> {
  await held.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });
}

async function badge(page: Page, label: string | RegExp, timeout = 15_000): Promise<void> {
  await page.locator(".conn", { hasText: label }).waitFor({ timeout });
}
