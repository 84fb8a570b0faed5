/**
 * What the web app's browser tests start once per file: the real edge under `wrangler dev`
 * and Debian's Chromium, plus users (a token and a client each), optionally with a scripted
 * runner registered for them and connected, and pages opened signed in as a user. `dispose`
 * closes the runners it made, the browser and the edge.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { TetherClient } from "../../shared/client/index.ts";
import { launchBrowser, type SignedInOptions, signedInPage } from "../web-browser.ts";
import { ScriptedRunner } from "../web-runner.ts";
import { WranglerEdge } from "./edge.ts";

export interface WebUser {
  token: string;
  client: TetherClient;
}

export class WebSession {
  readonly edge = new WranglerEdge();
  #browser: Browser | undefined;
  readonly #runners: ScriptedRunner[] = [];

  get browser(): Browser {
    if (!this.#browser) throw new Error("the web session has not started");
    return this.#browser;
  }

  async start(): Promise<void> {
    await this.edge.start();
    this.#browser = await launchBrowser();
  }

  /** A user named `name` with a client of theirs. */
  async user(name: string): Promise<WebUser> {
    const token = await this.edge.userToken(name);
    return { token, client: new TetherClient({ baseURL: this.edge.url, token }) };
  }

  /** A user named `name` and a scripted runner registered for them (as `runnerName` when given) and connected. */
  async userWithRunner(name: string, runnerName?: string): Promise<WebUser & { runner: ScriptedRunner }> {
    const user = await this.user(name);
    const runner = new ScriptedRunner(this.edge.url);
    this.#runners.push(runner);
    await runner.register(user.token, runnerName);
    await runner.connect();
    return { ...user, runner };
  }

  /** A phone context of its own signed in with `token`, its page on the edge at `path`. */
  signedIn(token: string, path: string, options?: SignedInOptions): Promise<{ phone: BrowserContext; page: Page }> {
    return signedInPage(this.browser, this.edge.url, token, path, options);
  }

  async dispose(): Promise<void> {
    for (const runner of this.#runners.splice(0)) runner.close();
    await this.#browser?.close();
    await this.edge.dispose();
  }
}
