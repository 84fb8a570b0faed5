/**
 * The runners in the phone web app (Debian's Chromium at 390×844, the real edge under
 * `wrangler dev`, scripted runners that speak the real protocol): the list with what each
 * runner said in hello, drain and resume (dispatch skips a draining runner), delete after a
 * confirmation, adding a runner (a real registration token in the `docker run` command, also
 * as a QR code), the empty task list saying whether a runner is online, and signing out from
 * the settings screen with a confirmation. Each screen is held to `checkScreen`.
 */
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkScreen, describeBrowser } from "./web-browser.ts";
import { WebSession } from "./support/web-session.ts";
import { ScriptedRunner } from "./web-runner.ts";

describeBrowser("runners in the web app", () => {
  const session = new WebSession();
  const edge = session.edge;
  let users = 0;

  beforeAll(async () => {
    await session.start();
  }, 120_000);

  afterAll(async () => {
    await session.dispose();
  });

  /** A user of their own, with a client. */
  const newUser = () => session.user(`runners-${process.pid}-${++users}`);
  const signedIn = (token: string, path: string) => session.signedIn(token, path);

  it("lists runners with what they said in hello, drains, resumes and deletes one after a confirmation", async () => {
    const { token, client } = await newUser();
    const builder = new ScriptedRunner(edge.url, ["linux", "gpu"]);
    await builder.register(token, "builder");
    await builder.connect();
    const idle = new ScriptedRunner(edge.url);
    await idle.register(token, "spare");
    const task = await client.createTask({ repo: { url: "https://example.com/acme/calculator.git" }, prompt: "Fix the sum" });
    const held = await builder.take();
    expect(held.id).toBe(task.id);
    await held.emit({ type: "status", data: { status: "running" } });

    const { phone, page } = await signedIn(token, "/");
    await page.getByRole("link", { name: "Runners" }).click();
    await page.getByRole("heading", { name: "Runners" }).waitFor();
    const card = page.locator(".runner-card", { hasText: "builder" });
    await card.locator(".pill", { hasText: "Online" }).waitFor();
    await card.getByText("1 of 4 slots busy").waitFor();
    await card.getByText("linux, gpu").waitFor();
    await card.getByText("web-test").waitFor();
    await card.getByText("just now").waitFor();
    const spare = page.locator(".runner-card", { hasText: "spare" });
    await spare.locator(".pill", { hasText: "Offline" }).waitFor();
    await spare.getByText("never").waitFor();
    await checkScreen(page, "13-runners");

    // Drained, the runner keeps its task and a new one waits in the queue.
    await card.getByRole("button", { name: "Drain" }).click();
    await card.locator(".pill", { hasText: "Draining" }).waitFor();
    expect((await client.listRunners()).find((r) => r.name === "builder")).toMatchObject({ draining: true, runningTasks: [task.id] });
    const queued = await client.createTask({ repo: { url: "https://example.com/acme/calculator.git" }, prompt: "Add a test" });
    builder.control!.send({ type: "ping" });
    await builder.control!.next("pong");
    expect(builder.control!.frames.filter((f) => f.type === "assign")).toEqual([]);
    expect((await client.getTask(queued.id)).status).toBe("queued");
    await checkScreen(page, "13-runners-draining");
    await card.getByRole("button", { name: "Resume" }).click();
    const next = await builder.take();
    expect(next.id).toBe(queued.id);
    await card.locator(".pill", { hasText: "Online" }).waitFor();

    // Delete asks first; keeping it changes nothing.
    await spare.getByRole("button", { name: "Delete" }).click();
    await spare.getByText("Delete spare? Its credential stops working at once.").waitFor();
    await spare.getByRole("button", { name: "Keep it" }).click();
    expect((await client.listRunners()).map((r) => r.name).sort()).toEqual(["builder", "spare"]);
    await spare.getByRole("button", { name: "Delete" }).click();
    await checkScreen(page, "13-runners-delete-confirm");
    await spare.getByRole("button", { name: "Yes, delete" }).click();
    await expect.poll(() => page.locator(".runner-card").count()).toBe(1);
    expect((await client.listRunners()).map((r) => r.name)).toEqual(["builder"]);

    await held.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });
    await next.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });
    builder.close();
    await phone.close();
  });

  it("adds a runner: the docker run command carries this edge and a working token, also as a QR code", async () => {
    const { token, client } = await newUser();
    const { phone, page } = await signedIn(token, "/runners");
    await page.getByText("No runner yet.").waitFor();
    await page.getByRole("link", { name: "Add your first runner" }).click();
    await page.getByRole("heading", { name: "Add a runner" }).waitFor();
    const pre = page.getByLabel("The command to run on the host");
    await pre.waitFor();
    const command = await pre.innerText();
    expect(command).toMatch(/^docker run -d --name tether-runner .* tether-runner:latest$/s);
    expect(command).toContain(`-e TETHER_EDGE_URL=${edge.url} `);
    const registration = /TETHER_REGISTRATION_TOKEN=(\S+)/.exec(command)?.[1];
    expect(registration).toMatch(/^trr_/);
    await checkScreen(page, "14-add-runner");

    // The QR code reads back as the same command.
    const qr = page.getByRole("img", { name: "QR code of the command" });
    await qr.scrollIntoViewIfNeeded();
    const png = PNG.sync.read(await qr.screenshot());
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(command);

    // The token in the command registers a runner, which then shows in the list.
    const registered = await client.registerRunner({ token: registration!, name: "from-the-app" });
    expect(registered.runner.id).toMatch(/^rnr_/);
    await page.getByRole("link", { name: "Back to runners" }).click();
    await page.locator(".runner-card", { hasText: "from-the-app" }).waitFor();
    await phone.close();
  });

  it("says on the empty task list whether a runner is online", async () => {
    const { token } = await newUser();
    const runner = new ScriptedRunner(edge.url);
    await runner.register(token, "lonely");
    const { phone, page } = await signedIn(token, "/");
    await page.getByText("No runner is online, so a task waits in the queue.").waitFor();
    await page.getByRole("link", { name: "See your runners" }).waitFor();
    await runner.connect();
    await page.reload();
    await page.getByText("1 runner is online and ready.").waitFor();
    await checkScreen(page, "02-task-list-empty-runner-online");
    runner.close();
    await phone.close();
  });

  it("signs out from the settings screen, only after a confirmation", async () => {
    const { token } = await newUser();
    const { phone, page } = await signedIn(token, "/");
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await checkScreen(page, "15-settings-sign-out");
    await page.getByRole("button", { name: "Stay signed in" }).click();
    expect(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem("tether.token"))).toBe(token);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Yes, sign out" }).click();
    await page.getByLabel("Your token").waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem("tether.token"))).toBeNull();
    await phone.close();
  });
});
