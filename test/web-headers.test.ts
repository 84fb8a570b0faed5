/**
 * Attack: frame the web app in a page of another origin (clickjacking), or rely on a CSP
 * that only a `<meta>` tag states (it cannot say `frame-ancestors`). The edge under
 * `wrangler dev` serves every page of the app with the CSP as a header, `frame-ancestors
 * 'none'` included, and every directive of the meta CSP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type WranglerEdge } from "./support/edge.ts";

/** The directives of a CSP, by name. */
function directives(csp: string): Map<string, string> {
  return new Map(
    csp
      .split(";")
      .map((d) => d.trim())
      .filter((d) => d.length > 0)
      .map((d) => [d.split(/\s+/)[0]!, d] as const),
  );
}

describe("the web app's headers under wrangler dev", () => {
  let edge: WranglerEdge;
  beforeAll(async () => {
    edge = await startEdge();
  });
  afterAll(async () => {
    await edge?.dispose();
  });

  it("The web app cannot be framed: its CSP is a header with frame-ancestors 'none'", async () => {
    for (const path of ["/", "/tasks/tsk_00000000000000000000"]) {
      const res = await fetch(`${edge.url}${path}`);
      expect(res.status).toBe(200);
      const html = await res.text();
      const header = res.headers.get("content-security-policy");
      expect(header, path).not.toBeNull();
      const served = directives(header!);
      expect(served.get("frame-ancestors")).toBe("frame-ancestors 'none'");
      const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
      expect(meta, "index.html has a meta CSP").toBeDefined();
      for (const [name, directive] of directives(meta!)) expect(served.get(name)).toBe(directive);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    }
    const script = await fetch(`${edge.url}/app.js`);
    expect(script.headers.get("x-content-type-options")).toBe("nosniff");
    await script.arrayBuffer();
  });
});
