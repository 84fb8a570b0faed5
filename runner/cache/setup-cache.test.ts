import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cacheKeyOf, lockfileDigests, SetupCache } from "./setup-cache.ts";

describe("SetupCache", () => {
  let root: string;
  let clock: number;
  const now = () => new Date(Date.UTC(2026, 0, 1) + clock++ * 1000);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-cache-"));
    clock = 0;
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  async function workspace(name: string, files: Record<string, string>): Promise<string> {
    const dir = join(root, name);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, ".."), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    return dir;
  }

  it("gives another key for a change of image, repository, steps or any lockfile, and the same key otherwise", async () => {
    const ws = await workspace("ws", { "package-lock.json": '{"lockfileVersion":3}' });
    const base = { imageID: "sha256:a", repoURL: "https://git.test/r.git", steps: ["npm ci"], lockfiles: await lockfileDigests(ws) };
    const key = cacheKeyOf(base);
    expect(cacheKeyOf({ ...base, lockfiles: await lockfileDigests(ws) })).toBe(key);
    expect(cacheKeyOf({ ...base, imageID: "sha256:b" })).not.toBe(key);
    expect(cacheKeyOf({ ...base, repoURL: "https://git.test/other.git" })).not.toBe(key);
    expect(cacheKeyOf({ ...base, steps: ["npm install"] })).not.toBe(key);
    await writeFile(join(ws, "package-lock.json"), '{"lockfileVersion":3,"x":1}');
    expect(cacheKeyOf({ ...base, lockfiles: await lockfileDigests(ws) })).not.toBe(key);
    await writeFile(join(ws, "yarn.lock"), "");
    expect(Object.values(await lockfileDigests(ws)).filter((d) => d !== null)).toHaveLength(2);
  });

  it("saves the given paths of a workspace and restores them into another; a miss restores nothing", async () => {
    const cache = new SetupCache(join(root, "cache"), 10 * 1024 * 1024, now);
    const ws = await workspace("ws", { "node_modules/dep/index.js": "module.exports = 42;\n", "src/tracked.js": "tracked", "build/out.txt": "built" });
    const key = cacheKeyOf({ imageID: "i", repoURL: "r", steps: ["s"], lockfiles: {} });
    const saved = await cache.save(key, ws, ["node_modules/", "build/out.txt"], { repo: "r", setupMs: 1234 });
    expect(saved).toMatchObject({ key, repo: "r", setupMs: 1234 });
    const fresh = await workspace("fresh", { "src/tracked.js": "newer" });
    expect(await cache.restore("0".repeat(64), fresh)).toBeUndefined();
    const hit = await cache.restore(key, fresh);
    expect(hit?.setupMs).toBe(1234);
    expect(await readFile(join(fresh, "node_modules/dep/index.js"), "utf8")).toBe("module.exports = 42;\n");
    expect(await readFile(join(fresh, "build/out.txt"), "utf8")).toBe("built");
    expect(await readFile(join(fresh, "src/tracked.js"), "utf8")).toBe("newer");
    expect((await cache.list())[0]?.lastUsedAt).toBe(hit?.lastUsedAt);
  });

  it("prunes to its bound, least recently used first", async () => {
    const ws = await workspace("ws", { "blob.bin": "x".repeat(64 * 1024) });
    const big = new SetupCache(join(root, "cache"), 1024 * 1024 * 1024, now);
    const keys = ["a", "b", "c"].map((s) => cacheKeyOf({ imageID: s, repoURL: "r", steps: [], lockfiles: {} }));
    for (const key of keys) await big.save(key, ws, ["blob.bin"], { repo: "r", setupMs: 1 });
    // The first one is used again: the second is now the least recently used.
    await big.restore(keys[0] as string, await workspace("again", {}));
    const one = (await big.list())[0]?.bytes ?? 0;
    expect(one).toBeGreaterThan(0);
    const removed = await big.prune(one * 2);
    expect(removed.map((e) => e.key)).toEqual([keys[1]]);
    expect((await big.list()).map((e) => e.key).sort()).toEqual([keys[0], keys[2]].sort());
    expect(await big.prune(0)).toHaveLength(2);
    expect(await big.list()).toEqual([]);
  });

  it("keeps nothing that does not fit at all", async () => {
    const ws = await workspace("ws", { "blob.bin": "y".repeat(4096) });
    const tiny = new SetupCache(join(root, "cache"), 1, now);
    const key = cacheKeyOf({ imageID: "i", repoURL: "r", steps: [], lockfiles: {} });
    expect(await tiny.save(key, ws, ["blob.bin"], { repo: "r", setupMs: 1 })).toBeUndefined();
    expect(await tiny.list()).toEqual([]);
  });
});
