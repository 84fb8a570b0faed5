/**
 * A reached budget on the phone (Debian's Chromium at 390×844, the real edge under
 * `wrangler dev`, a scripted runner that speaks the real protocol): the task shows which limit
 * it reached, what is spent and left of each, and "Raise to … and continue"; a value that does
 * not raise the limit is refused on the phone; the raise reaches the runner as a `limits`
 * command, and the task goes on to its end. Each screen is held to `checkScreen`.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkScreen, describeBrowser } from "./web-browser.ts";
import { WebSession } from "./support/web-session.ts";

describeBrowser("a budget raised from the phone", () => {
  const session = new WebSession();

  beforeAll(async () => {
    await session.start();
  }, 120_000);

  afterAll(async () => {
    await session.dispose();
  });

  it("shows the reached limit, raises it to the value asked, and the task continues to its end", async () => {
    const { token, client, runner } = await session.userWithRunner(`budget-${process.pid}`, "budget-runner");
    const task = await client.createTask({ repo: { url: "https://example.com/acme/calculator.git" }, prompt: "Fix the sum", limits: { maxTurns: 3, maxCostUSD: 2 } });
    const held = await runner.take();
    expect(held.id).toBe(task.id);
    await held.emit({ type: "status", data: { status: "running" } }, { type: "agent.text", data: { turn: 0, text: "Reading the code first." } });
    await held.emit(
      { type: "budget.reached", data: { limit: "maxTurns", reason: "turn budget spent: 3 of 3 model calls made", limits: { maxTurns: 3, maxCostUSD: 2 }, spent: { maxTurns: 3, maxCostUSD: 0.42 }, remaining: { maxTurns: 0, maxCostUSD: 1.58 } } },
      { type: "status", data: { status: "waiting", reason: "turn budget spent: 3 of 3 model calls made: raise the limit to go on" } },
    );

    const { phone, page } = await session.signedIn(token, `/tasks/${task.id}`);
    const card = page.locator(".budget-card");
    await card.getByRole("heading", { name: "Paused: model call limit reached" }).waitFor();
    await card.getByText("3 of 3 · 0 left").waitFor();
    await card.getByText("$0.42 of $2.00 · $1.58 left").waitFor();
    const input = card.getByLabel("New model call limit");
    expect(await input.inputValue()).toBe("6");
    await card.getByRole("button", { name: "Raise to 6 and continue" }).waitFor();
    await checkScreen(page, "30-budget-reached");

    // A value that does not raise the limit stays on the phone.
    await input.fill("2");
    await card.getByRole("button", { name: "Raise to 2 and continue" }).click();
    await card.getByRole("alert").getByText("Enter a model call limit above 3, at most 1000.").waitFor();
    await checkScreen(page, "30-budget-reached-refused");

    await input.fill("8");
    await card.getByRole("button", { name: "Raise to 8 and continue" }).click();
    const command = await held.nextCommand();
    expect(command).toMatchObject({ kind: "limits", limits: { maxTurns: 8, maxCostUSD: 2 } });
    expect((await client.getTask(task.id)).limits).toMatchObject({ maxTurns: 8 });
    await page.getByText("Limits raised by").waitFor();
    await card.waitFor({ state: "detached" });

    await held.emit({ type: "status", data: { status: "running" } }, { type: "agent.text", data: { turn: 0, text: "Fixed the sum after the raise." } });
    await page.getByText("Fixed the sum after the raise.").waitFor();
    await held.emit({ type: "done", data: { ok: true, summary: "Fixed." } }, { type: "status", data: { status: "succeeded" } });
    await page.locator(".task-bar").getByText("Succeeded").waitFor();
    await checkScreen(page, "31-budget-raised");
    await phone.close();
    runner.close();
  }, 120_000);
});
