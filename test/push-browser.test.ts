/**
 * Web Push in the phone app, in Chromium against the real edge: the opt-in toggle, and a
 * push delivered to the service worker through the DevTools protocol
 * (`ServiceWorker.deliverPushMessage`, which hands the worker the plaintext as a push service
 * would after decryption) shows the task's notification. The DevTools protocol cannot tap a
 * notification, so the tap is the service worker's own click logic (`openNotification`, what
 * its `notificationclick` handler runs) called in its scope on the notification it shows.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { newVapidKeys } from "../scripts/vapid-keys.ts";
import { TetherClient } from "../shared/client/index.ts";
import { startEdge, type WranglerEdge } from "./support/edge.ts";
import { describeBrowser, launchBrowser, screenshot, signedInPage } from "./web-browser.ts";

const VAPID = newVapidKeys();

describeBrowser("push notifications in the web app", () => {
  let edge: WranglerEdge;
  let browser: Browser;
  let token: string;

  beforeAll(async () => {
    edge = await startEdge({ vars: { VAPID_PUBLIC_KEY: VAPID.publicKey, VAPID_PRIVATE_KEY: VAPID.privateKey, VAPID_SUBJECT: "mailto:push-test@localhost" } });
    token = await edge.userToken(`push-web-${process.pid}`);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.dispose();
  });

  async function signedIn(): Promise<{ phone: BrowserContext; page: Page }> {
    const { phone, page } = await signedInPage(browser, edge.url, token, "/", { setUp: (ctx) => ctx.grantPermissions(["notifications"], { origin: edge.url }) });
    await page.evaluate(async () => (await (globalThis as unknown as Globals).navigator.serviceWorker.ready).scope);
    return { phone, page };
  }

  it("offers 'Notify me on this device' in the task list", async () => {
    const { phone, page } = await signedIn();
    const toggle = page.getByLabel("Notify me on this device");
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(false);
    await screenshot(page, "push-01-toggle");
    await phone.close();
  });

  it("shows a delivered push as the task's notification, and its click logic opens the task (CDP cannot click notifications)", async () => {
    const client = new TetherClient({ baseURL: edge.url, token });
    const task = await client.createTask({ repo: { url: "https://example.com/acme/calculator.git" }, prompt: "Make the build green" });
    const { phone, page } = await signedIn();

    const cdp = await phone.newCDPSession(page);
    const { targetInfo } = await cdp.send("Target.getTargetInfo");
    // The registration whose active version controls this page.
    const registered = new Promise<string>((resolve) => {
      cdp.on("ServiceWorker.workerVersionUpdated", ({ versions }) => {
        const ours = versions.find((v) => v.status === "activated" && v.controlledClients?.includes(targetInfo.targetId));
        if (ours) resolve(ours.registrationId);
      });
    });
    await cdp.send("ServiceWorker.enable");
    const registrationId = await registered;
    const payload = { taskID: task.id, title: task.title, body: "Waiting for you", url: `/tasks/${task.id}` };
    await cdp.send("ServiceWorker.deliverPushMessage", { origin: edge.url, registrationId, data: JSON.stringify(payload) });

    const notifications = async () =>
      page.evaluate(async () => {
        const registration = await (globalThis as unknown as Globals).navigator.serviceWorker.ready;
        return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
      });
    await expect
      .poll(notifications, { timeout: 15_000 })
      .toEqual([{ title: "Make the build green", body: "Waiting for you", tag: `task-${task.id}`, data: { url: `/tasks/${task.id}` } }]);

    const worker = phone.serviceWorkers().find((w) => w.url() === `${edge.url}/sw.js`) ?? (await phone.waitForEvent("serviceworker"));
    await worker.evaluate(async () => {
      const scope = globalThis as unknown as WorkerGlobals;
      const [notification] = await scope.registration.getNotifications();
      notification!.close();
      await scope.openNotification(notification!);
    });
    await page.waitForURL(`${edge.url}/tasks/${task.id}`);
    await page.getByRole("heading", { name: "Make the build green" }).waitFor();
    await screenshot(page, "push-02-opened-task");
    await phone.close();
  });
});

type NotificationLike = { title: string; body: string; tag: string; data: unknown; close(): void };
type Globals = {
  navigator: { serviceWorker: { ready: Promise<{ scope: string; getNotifications(): Promise<NotificationLike[]> }> } };
};
type WorkerGlobals = {
  registration: { getNotifications(): Promise<NotificationLike[]> };
  openNotification(notification: NotificationLike): Promise<unknown>;
};
