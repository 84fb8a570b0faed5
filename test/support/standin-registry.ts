/**
 * A stand-in npm registry on 127.0.0.1 for environment tests and benchmarks: it serves one
 * tiny package, `tether-dep@1.0.0` (its metadata and its tarball), and records every request
 * path. `fixtureRepo` makes a repository whose `npm test` needs that package. Nothing here
 * leaves the machine; a runner reaches the stand-in only with its loopback test switch on.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/** What the fixture's test prints once it has loaded the package. */
export const DEP_WORKS = "tether-dep works";

export interface StandinRegistry {
  /** `http://127.0.0.1:PORT/`, what npm's `registry` is set to. */
  url: string;
  port: number;
  /** The request paths served so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Starts the registry; `dir` holds the package while it is packed. */
export async function startStandinRegistry(dir: string): Promise<StandinRegistry> {
  const tarball = await packTarball(dir);
  const requests: string[] = [];
  let url = "";
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.url === "/tether-dep") {
      const dist = { tarball: `${url}tether-dep/-/tether-dep-1.0.0.tgz`, shasum: createHash("sha1").update(tarball).digest("hex") };
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({ name: "tether-dep", "dist-tags": { latest: "1.0.0" }, versions: { "1.0.0": { name: "tether-dep", version: "1.0.0", dist } } }),
      );
    } else if (req.url === "/tether-dep/-/tether-dep-1.0.0.tgz") {
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(tarball);
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end("{}");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}/`;
  return { url, port, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The package `tether-dep` as an npm tarball (a gzip tar of `package/`). */
async function packTarball(dir: string): Promise<Buffer> {
  await mkdir(join(dir, "package"), { recursive: true });
  await writeFile(join(dir, "package", "package.json"), JSON.stringify({ name: "tether-dep", version: "1.0.0", main: "index.js" }));
  await writeFile(join(dir, "package", "index.js"), `exports.check = () => console.log(${JSON.stringify(DEP_WORKS)});\n`);
  execFileSync("tar", ["-czf", join(dir, "pkg.tgz"), "-C", dir, "package"]);
  return readFile(join(dir, "pkg.tgz"));
}

/** A repository whose test needs `tether-dep`, committed on `main`; its path is the task's URL. */
export async function fixtureRepo(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "fixture", version: "1.0.0", private: true, scripts: { test: "node -e \"require('tether-dep').check()\"" }, dependencies: { "tether-dep": "1.0.0" } }, null, 2),
  );
  await writeFile(join(dir, ".gitignore"), "node_modules/\n");
  const run = (...args: string[]) => execFileSync("git", ["-c", "user.name=Fixture", "-c", "user.email=fixture@example.invalid", ...args], { cwd: dir, stdio: "ignore" });
  run("init", "-q", "-b", "main");
  run("add", "-A");
  run("commit", "-q", "-m", "fixture");
  return dir;
}
