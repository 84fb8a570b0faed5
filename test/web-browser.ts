/**
 * Gate and launcher for tests that drive Debian's Chromium with playwright-core. They run
 * when /usr/bin/chromium exists; when it does not they are skipped with the reason printed,
 * and with TETHER_REQUIRE_BROWSER=1 they fail. No browser is ever downloaded. `checkScreen`
 * holds every screen to the phone's rules: touch targets of 44 px at least, and no serious or
 * critical accessibility violation as axe-core finds them. `signedInPage` opens a page of the
 * app in a phone context of its own with a user signed in.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { describe, expect, it } from "vitest";

export const CHROMIUM = process.env.TETHER_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(import.meta.dirname, "..", "test-output", "screenshots");

/** `describe` for suites that need the browser. */
export function describeBrowser(name: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, body);
  } else if (process.env.TETHER_REQUIRE_BROWSER === "1") {
    describe(name, () => {
      it("has a browser", () => {
        throw new Error(`TETHER_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
      });
    });
  } else {
    console.warn(`[browser] skipping "${name}": no Chromium at ${CHROMIUM} (TETHER_REQUIRE_BROWSER=1 makes this a failure)`);
    describe.skip(name, body);
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A phone-sized context: 390 × 844, touch, a phone's pixel ratio. */
export async function phoneContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-US",
  });
}

/** What `signedInPage` does besides: `setUp` the context before its page opens, `onPage` before the page loads. */
export interface SignedInOptions {
  setUp?: (phone: BrowserContext) => Promise<void>;
  onPage?: (page: Page) => void;
}

/** A phone context of its own with `token` in the app's storage (signed in), its page at `origin` + `path`. */
export async function signedInPage(browser: Browser, origin: string, token: string, path: string, options: SignedInOptions = {}): Promise<{ phone: BrowserContext; page: Page }> {
  const phone = await phoneContext(browser);
  await phone.addInitScript((t) => (globalThis as unknown as { localStorage: { setItem(key: string, value: string): void } }).localStorage.setItem("tether.token", t), token);
  await options.setUp?.(phone);
  const page = await phone.newPage();
  options.onPage?.(page);
  await page.goto(`${origin}${path}`);
  return { phone, page };
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** What the page functions below use of the browser (this file is type-checked without the DOM lib). */
type Box = { x: number; y: number; width: number; height: number };
type PageGlobals = {
  document: { querySelectorAll(selector: string): ArrayLike<PageElement> };
  getComputedStyle(el: PageElement): { visibility: string; display: string; fontSize: string };
  axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> };
};
type PageElement = { childNodes: ArrayLike<{ nodeType: number; textContent: string | null }>; getBoundingClientRect(): Box; closest(selector: string): PageElement | null; textContent: string | null; getAttribute(name: string): string | null; tagName: string; className: string };
type AxeViolation = { id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> };

/** The page's serious and critical accessibility violations, as axe-core finds them (injected over the debugging protocol, so the page's CSP does not apply). */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => (await (globalThis as unknown as PageGlobals).axe.run((globalThis as unknown as PageGlobals).document, { resultTypes: ["violations"] })).violations);
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")})`);
}

/** Every visible button, link and form control smaller than 44 × 44 CSS pixels, named with its size. */
export async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals;
    const small: string[] = [];
    for (const el of Array.from(g.document.querySelectorAll("a[href], button, summary, input, select, textarea, [role=button]"))) {
      const box = el.getBoundingClientRect();
      const style = g.getComputedStyle(el);
      // Not rendered, or inside a closed <details> (its content is not laid out): not a target.
      if (box.width === 0 || box.height === 0 || style.visibility === "hidden" || style.display === "none") continue;
      if (el.closest(".sr-only")) continue;
      if (box.width < 44 || box.height < 44) {
        const name = (el.getAttribute("aria-label") ?? el.textContent ?? "").trim().slice(0, 40);
        small.push(`${el.tagName.toLowerCase()}.${el.className} "${name}" ${Math.round(box.width)}×${Math.round(box.height)}`);
      }
    }
    return small;
  });
}

/** Visible text set under 13 px (the floor for secondary text; labels are 14 px and up), named with its size. */
export async function smallText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals;
    const small: string[] = [];
    for (const el of Array.from(g.document.querySelectorAll("body *"))) {
      const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && (n.textContent ?? "").trim() !== "");
      if (!own || el.getBoundingClientRect().width === 0) continue;
      const size = Number.parseFloat(g.getComputedStyle(el).fontSize);
      if (size < 13) small.push(`${el.tagName.toLowerCase()}.${el.className} "${(el.textContent ?? "").trim().slice(0, 30)}" ${size}px`);
    }
    return small;
  });
}

/** A screen as the phone shows it: a screenshot, no serious accessibility violation, no target under 44 px, no text under 13 px. */
export async function checkScreen(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  expect(await smallTargets(page), `${name}: touch targets under 44 px`).toEqual([]);
  expect(await smallText(page), `${name}: text under 13 px`).toEqual([]);
  expect(await seriousViolations(page), `${name}: accessibility`).toEqual([]);
}
