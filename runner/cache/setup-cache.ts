/**
 * The setup cache on the runner host: what a successful setup left in a workspace (the files
 * git does not track: installed dependencies, build outputs), one gzip tarball per key, so a
 * later task with the same key starts with setup done.
 *
 * The key is a SHA-256 over the worker image's ID, the repository URL, the setup script
 * (its steps) and the repository's lockfiles (each by its content; an absent one counts), so
 * a change of any misses. A runner serves one account, so its home's cache is that account's.
 * The cache is bounded in bytes: after each save the least recently used entries go until it
 * fits (`prune`). Layout: `<dir>/<key>.tar.gz` beside `<dir>/<key>.json` (its entry).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";

const run = promisify(execFile);

/** Lockfiles at the repository's root that decide what a setup installs. */
export const LOCKFILES = [
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lockb",
  "requirements.txt",
  "requirements-dev.txt",
  "poetry.lock",
  "Pipfile.lock",
  "uv.lock",
  "Cargo.lock",
  "go.sum",
  "Gemfile.lock",
  "composer.lock",
] as const;

export const CacheEntry = z.object({
  key: z.string().regex(/^[0-9a-f]{64}$/),
  repo: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string(),
  bytes: z.number().int().nonnegative(),
  /** How long the setup took that made this entry: what a hit saves. */
  setupMs: z.number().int().nonnegative(),
});
export type CacheEntry = z.infer<typeof CacheEntry>;

export interface CacheKeyParts {
  imageID: string;
  repoURL: string;
  steps: string[];
  lockfiles: Record<string, string | null>;
}

/** The key of a setup: any change of image, repository, steps or a lockfile gives another. */
export function cacheKeyOf(parts: CacheKeyParts): string {
  const lockfiles = Object.keys(parts.lockfiles)
    .sort()
    .map((name) => [name, parts.lockfiles[name]]);
  return createHash("sha256").update(JSON.stringify({ v: 1, image: parts.imageID, repo: parts.repoURL, steps: parts.steps, lockfiles })).digest("hex");
}

/** Each lockfile at the workspace's root by the SHA-256 of its content, null when absent. */
export async function lockfileDigests(workspaceDir: string): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const name of LOCKFILES) {
    const content = await readFile(join(workspaceDir, name)).catch(() => null);
    out[name] = content === null ? null : createHash("sha256").update(content).digest("hex");
  }
  return out;
}

export class SetupCache {
  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Unpacks the entry for `key` into the workspace and marks it used; undefined on a miss. */
  async restore(key: string, workspaceDir: string): Promise<CacheEntry | undefined> {
    const entry = await this.read(key);
    if (!entry) return undefined;
    await mkdir(workspaceDir, { recursive: true });
    try {
      await run("tar", ["-xzf", this.archiveOf(key), "-C", workspaceDir], { maxBuffer: 16 * 1024 * 1024 });
    } catch {
      await this.remove(key);
      return undefined;
    }
    const used = { ...entry, lastUsedAt: this.now().toISOString() };
    await this.write(used);
    return used;
  }

  /** Packs `paths` (relative to the workspace) as the entry for `key`, then prunes to the bound. */
  async save(key: string, workspaceDir: string, paths: string[], meta: { repo: string; setupMs: number }): Promise<CacheEntry | undefined> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.${key}.${process.pid}.tmp`);
    const list = `${tmp}.list`;
    try {
      await writeFile(list, paths.map((p) => `${p}\0`).join(""));
      await run("tar", ["-czf", tmp, "-C", workspaceDir, "--null", "-T", list], { maxBuffer: 16 * 1024 * 1024 });
      const { size } = await stat(tmp);
      await rename(tmp, this.archiveOf(key));
      const at = this.now().toISOString();
      const entry: CacheEntry = { key, repo: meta.repo, createdAt: at, lastUsedAt: at, bytes: size, setupMs: Math.round(meta.setupMs) };
      await this.write(entry);
      const removed = await this.prune();
      return removed.some((e) => e.key === key) ? undefined : entry;
    } finally {
      await rm(tmp, { force: true });
      await rm(list, { force: true });
    }
  }

  /** Every entry, most recently used first. */
  async list(): Promise<CacheEntry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries: CacheEntry[] = [];
    for (const name of names) {
      const m = /^([0-9a-f]{64})\.json$/.exec(name);
      const entry = m?.[1] ? await this.read(m[1]) : undefined;
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
  }

  /** Removes the least recently used entries until the rest fit in `maxBytes`; says which went. */
  async prune(maxBytes = this.maxBytes): Promise<CacheEntry[]> {
    const entries = await this.list();
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    const removed: CacheEntry[] = [];
    for (const entry of [...entries].reverse()) {
      if (total <= maxBytes) break;
      await this.remove(entry.key);
      total -= entry.bytes;
      removed.push(entry);
    }
    return removed;
  }

  private async read(key: string): Promise<CacheEntry | undefined> {
    try {
      const parsed = CacheEntry.safeParse(JSON.parse(await readFile(join(this.dir, `${key}.json`), "utf8")));
      if (!parsed.success) return undefined;
      await stat(this.archiveOf(key));
      return parsed.data;
    } catch {
      return undefined;
    }
  }

  private async write(entry: CacheEntry): Promise<void> {
    const path = join(this.dir, `${entry.key}.json`);
    await writeFile(`${path}.tmp`, JSON.stringify(entry));
    await rename(`${path}.tmp`, path);
  }

  private async remove(key: string): Promise<void> {
    await rm(join(this.dir, `${key}.json`), { force: true });
    await rm(this.archiveOf(key), { force: true });
  }

  private archiveOf(key: string): string {
    return join(this.dir, `${key}.tar.gz`);
  }
}
