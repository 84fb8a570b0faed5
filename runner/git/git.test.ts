import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloneRepo, commitAll, gitDirOf, makeDiff, pushBranch, removeRepo } from "./git.ts";

const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "A", GIT_AUTHOR_EMAIL: "a@x", GIT_COMMITTER_NAME: "A", GIT_COMMITTER_EMAIL: "a@x" };

function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: ENV, encoding: "utf8" }).trim();
}

/** The task's view of its git data: the directory beside the workspace. */
function inRepo(dir: string, ...args: string[]): string {
  return sh(dir, `--git-dir=${gitDirOf(dir)}`, `--work-tree=${dir}`, ...args);
}

describe("git", () => {
  let root: string;
  let remote: string;
  let url: string;
  const commits: string[] = [];
  let n = 0;
  const workspace = () => join(root, `ws-${++n}`);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-git-"));
    const src = join(root, "src");
    await mkdir(src);
    sh(src, "init", "-q", "-b", "main");
    for (let i = 1; i <= 3; i++) {
      await writeFile(join(src, "README.md"), `version ${i}\n`);
      await writeFile(join(src, "keep.txt"), "a\nb\nc\n");
      await writeFile(join(src, "gone.txt"), "bye\n");
      sh(src, "add", "-A");
      sh(src, "commit", "-q", "-m", `v${i}`);
      commits.push(sh(src, "rev-parse", "HEAD"));
    }
    sh(src, "tag", "light", commits[0] ?? "");
    sh(src, "tag", "-a", "annotated", "-m", "a tag", commits[1] ?? "");
    sh(src, "branch", "feature", commits[1] ?? "");
    remote = join(root, "remote.git");
    sh(root, "clone", "-q", "--bare", src, remote);
    url = `file://${remote}`;
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("clones the default branch shallowly onto a new task branch, the runner's repo beside the workspace", async () => {
    const dir = workspace();
    const r = await cloneRepo({ url, dir, branch: "tether/t1" });
    expect(r).toEqual({ ok: true, value: commits[2] });
    expect(await readFile(join(dir, "README.md"), "utf8")).toBe("version 3\n");
    expect(inRepo(dir, "rev-parse", "--abbrev-ref", "HEAD")).toBe("tether/t1");
    expect(inRepo(dir, "rev-list", "--count", "HEAD")).toBe("1");
    expect(existsSync(join(gitDirOf(dir), "HEAD"))).toBe(true);
  });

  it("gives the agent its own .git in the workspace: same branch and commit, clean status, no remote", async () => {
    const dir = workspace();
    const r = await cloneRepo({ url, dir, branch: "tether/own" });
    const own = (...args: string[]) => sh(dir, ...args);
    expect(own("rev-parse", "--abbrev-ref", "HEAD")).toBe("tether/own");
    expect(r.ok && own("rev-parse", "HEAD")).toBe(r.ok && r.value);
    expect(own("status", "--porcelain")).toBe("");
    expect(own("remote")).toBe("");
    await writeFile(join(dir, "README.md"), "changed\n");
    expect(own("status", "--porcelain")).toBe("M README.md");
    expect(own("diff", "--stat")).toContain("README.md");
  });

  it("honours a branch, a lightweight tag, an annotated tag and a commit as ref", async () => {
    for (const [ref, want] of [
      ["feature", commits[1]],
      ["light", commits[0]],
      ["annotated", commits[1]],
      [commits[0] ?? "", commits[0]],
    ] as const) {
      const dir = workspace();
      const r = await cloneRepo({ url, ref, dir, branch: "tether/ref" });
      expect(r, ref).toEqual({ ok: true, value: want });
    }
  });

  it("clones full history with depth 0", async () => {
    const dir = workspace();
    await cloneRepo({ url, dir, branch: "b", depth: 0 });
    expect(inRepo(dir, "rev-list", "--count", "HEAD")).toBe("3");
  });

  it("reports a missing repo or ref as a value and leaves nothing behind", async () => {
    const dir = workspace();
    const missing = await cloneRepo({ url: `file://${root}/nope.git`, dir, branch: "b" });
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.error).toMatch(/git fetch .* failed/);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(gitDirOf(dir))).toBe(false);
    const badRef = await cloneRepo({ url, ref: "no-such-branch", dir, branch: "b" });
    expect(!badRef.ok && badRef.error).toMatch(/no-such-branch/);
    const badSHA = await cloneRepo({ url, ref: "0123456789abcdef0123456789abcdef01234567", dir, branch: "b" });
    expect(badSHA.ok).toBe(false);
  });

  it("refuses a ref, branch or URL that git could read as an option or a refspec, running nothing", async () => {
    const marker = join(root, "injected");
    const dir = workspace();
    for (const [opts, error] of [
      [{ ref: `--upload-pack=touch ${marker}` }, /is not a branch, tag or commit name/],
      [{ ref: "main:refs/heads/other" }, /is not a branch, tag or commit name/],
      [{ ref: "a..b" }, /is not a branch, tag or commit name/],
      [{ branch: "-f" }, /is not a valid branch name/],
      [{ url: `--upload-pack=touch ${marker}` }, /may not begin with '-'/],
    ] as const) {
      const r = await cloneRepo({ url, dir, branch: "b", ...opts });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toMatch(error);
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await pushBranch(dir, "--mirror")).toEqual({ ok: false, error: 'branch "--mirror" is not a valid branch name' });
  });

  it("refuses a workspace that is not empty", async () => {
    const dir = workspace();
    await mkdir(dir);
    await writeFile(join(dir, "x"), "");
    const r = await cloneRepo({ url, dir, branch: "b" });
    expect(r).toEqual({ ok: false, error: `workspace ${dir} is not empty` });
    expect(await readdir(dir)).toEqual(["x"]);
  });

  it("commits every change as Tether, and reports when there is nothing to commit", async () => {
    const dir = workspace();
    await cloneRepo({ url, dir, branch: "b" });
    expect(await commitAll(dir, "nothing")).toBe(false);
    await writeFile(join(dir, "new.txt"), "hello\n");
    expect(await commitAll(dir, "add new.txt")).toBe(true);
    expect(inRepo(dir, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s")).toBe("Tether <tether@localhost>|Tether <tether@localhost>|add new.txt");
    expect(await commitAll(dir, "again")).toBe(false);
  });

  it("makes a patch and its numbers from the base to the last commit", async () => {
    const dir = workspace();
    const clone = await cloneRepo({ url, dir, branch: "b" });
    if (!clone.ok) throw new Error(clone.error);
    await writeFile(join(dir, "README.md"), "version 3\nmore\nand more\n");
    await writeFile(join(dir, "keep.txt"), "a\nc\n");
    await rm(join(dir, "gone.txt"));
    await mkdir(join(dir, "sub dir"));
    await writeFile(join(dir, "sub dir", "bin.dat"), Buffer.from([0, 1, 2, 255, 0]));
    await commitAll(dir, "work");
    const diff = await makeDiff(dir, clone.value);
    expect(diff.truncated).toBe(false);
    expect(diff.stat.changedFiles).toEqual([
      { path: "README.md", insertions: 2, deletions: 0 },
      { path: "gone.txt", insertions: 0, deletions: 1 },
      { path: "keep.txt", insertions: 0, deletions: 1 },
      { path: "sub dir/bin.dat", insertions: 0, deletions: 0 },
    ]);
    expect(diff.stat).toMatchObject({ files: 4, insertions: 2, deletions: 2 });
    // The patch recreates the change on a fresh copy of the base, binary file included.
    const check = workspace();
    await cloneRepo({ url, dir: check, branch: "c" });
    await writeFile(join(root, "p.patch"), diff.patch);
    inRepo(check, "apply", join(root, "p.patch"));
    expect(await readFile(join(check, "sub dir", "bin.dat"))).toEqual(Buffer.from([0, 1, 2, 255, 0]));
    expect(await readFile(join(check, "keep.txt"), "utf8")).toBe("a\nc\n");
    expect(existsSync(join(check, "gone.txt"))).toBe(false);
  });

  it("pushes the task branch to the remote", async () => {
    const dir = workspace();
    await cloneRepo({ url, dir, branch: "tether/push" });
    await writeFile(join(dir, "pushed.txt"), "x\n");
    await commitAll(dir, "to push");
    const head = inRepo(dir, "rev-parse", "HEAD");
    expect(await pushBranch(dir, "tether/push")).toEqual({ ok: true });
    expect(sh(remote, "rev-parse", "refs/heads/tether/push")).toBe(head);
    const bad = await pushBranch(dir, "no-such-branch");
    expect(bad.ok).toBe(false);
  });

  it("never reads the workspace's .git: no hook or config an agent writes there runs on the host", async () => {
    const dir = workspace();
    await cloneRepo({ url, dir, branch: "b" });
    const marker = join(root, "pwned");
    await rm(join(dir, ".git"), { recursive: true });
    await mkdir(join(dir, ".git", "hooks"), { recursive: true });
    await writeFile(join(dir, ".git", "config"), `[core]\n\tfsmonitor = "touch ${marker}"\n\thooksPath = .git/hooks\n`);
    await writeFile(join(dir, ".git", "hooks", "pre-commit"), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    await writeFile(join(dir, ".git", "HEAD"), "ref: refs/heads/evil\n");
    await writeFile(join(dir, "change.txt"), "y\n");
    expect(await commitAll(dir, "after a planted .git")).toBe(true);
    await makeDiff(dir, inRepo(dir, "rev-parse", "HEAD~0"));
    expect(existsSync(marker)).toBe(false);
    expect(inRepo(dir, "show", "--name-only", "--format=", "HEAD")).toBe("change.txt");
  });

  it("host git reads outside the workspace: a nested .git pointing at another repository is left out, never followed, no gitlink", async () => {
    const dir = workspace();
    await cloneRepo({ url, dir, branch: "b" });
    const other = join(root, `other-${n}`);
    await mkdir(other);
    sh(other, "init", "-q");
    sh(other, "commit", "-q", "--allow-empty", "-m", "a host repository the task must not see");
    const otherHead = sh(other, "rev-parse", "HEAD");
    // A gitlink the base commit already holds, whose directory the agent points elsewhere.
    inRepo(dir, "update-index", "--add", "--cacheinfo", `160000,${"1".repeat(40)},mod`);
    inRepo(dir, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-q", "-m", "a submodule");
    const base = inRepo(dir, "rev-parse", "HEAD");
    for (const sub of ["sub", "mod", "deep/er"]) {
      await mkdir(join(dir, sub), { recursive: true });
      await writeFile(join(dir, sub, ".git"), `gitdir: ${join(other, ".git")}\n`);
      await writeFile(join(dir, sub, "file.txt"), "inside\n");
    }
    await writeFile(join(dir, "change.txt"), "y\n");
    expect(await commitAll(dir, "with nested gitdir pointers")).toBe(true);
    const tree = inRepo(dir, "ls-tree", "-r", "HEAD");
    expect(tree).not.toContain(otherHead);
    expect(tree.split("\n").filter((l) => l.startsWith("160000"))).toEqual([`160000 commit ${"1".repeat(40)}\tmod`]);
    expect(inRepo(dir, "diff", "--name-only", base, "HEAD")).toBe("change.txt");
    expect((await makeDiff(dir, base)).patch).not.toContain(otherHead);
  });

  it("removes the workspace and its git directory", async () => {
    const dir = workspace();
    await cloneRepo({ url, dir, branch: "b" });
    await removeRepo(dir);
    expect(existsSync(dir) || existsSync(gitDirOf(dir))).toBe(false);
  });

  it("writes nothing of the credential to disk", async () => {
    const token = "ghp_not_a_real_token_123456";
    const dir = workspace();
    await cloneRepo({ url, dir, branch: "b", credentials: { httpsToken: token, hosts: ["127.0.0.1"] } });
    expect(await readFile(join(gitDirOf(dir), "config"), "utf8")).not.toContain(token);
    expect(await readFile(join(dir, ".git", "config"), "utf8")).not.toContain(token);
  });

  it("hands the SSH key to ssh on its command line, never to the repository's config", async () => {
    const bin = join(root, "fake bin");
    await mkdir(bin);
    const record = join(root, "ssh-args");
    await writeFile(join(bin, "ssh"), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nexit 255\n`, { mode: 0o755 });
    const key = join(root, "deploy key");
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const dir = workspace();
      const r = await cloneRepo({ url: "ssh://git@127.0.0.1/repo.git", dir, branch: "b", credentials: { sshKeyPath: key } });
      expect(r.ok).toBe(false);
    } finally {
      process.env.PATH = path;
    }
    const args = (await readFile(record, "utf8")).split("\n");
    expect(args.slice(0, 4)).toEqual(["-i", key, "-o", "IdentitiesOnly=yes"]);
    expect(args).toContain("BatchMode=yes");
    expect(args).toContain("git@127.0.0.1");
  });

  it("masks a password written into the URL in error messages", async () => {
    const r = await cloneRepo({ url: "http://user:hunter2@127.0.0.1:1/repo.git", dir: workspace(), branch: "b" });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).not.toContain("hunter2");
  });
});
