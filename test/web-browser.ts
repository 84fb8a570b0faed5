/**
 * Gate and launcher for tests that drive Debian's Chromium with playwright-core. They run
 * when /usr/bin/chromium exists; when it does not they are skipped with the reason printed,
 * and with TETHER_REQUIRE_BROWSER=1 they fail. No browser is ever downloaded.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { describe, it } from "vitest";

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

export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}
