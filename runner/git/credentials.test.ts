/**
 * Attacks on the runner's git credentials by a task that names the repository: a server of
 * the author's own, plain http, a redirect, and ssh with the operator's agent or keys. The
 * git servers are local HTTPS servers (a throwaway self-signed certificate for `127.0.0.1`
 * and `localhost`, two different hosts to git) that challenge with Basic auth and record
 * the Authorization header they get.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { gitEnv } from "./credentials.ts";
import { cloneRepo } from "./git.ts";

const TOKEN = "ghp_not_a_real_token_0123456789";
const BASIC = `Basic ${Buffer.from(`bot:${TOKEN}`).toString("base64")}`;

interface Hit {
  host: string;
  authorization: string | undefined;
}

/** Answers 401 until it gets credentials, then 403; a request to `redirectFrom` is sent on to `redirectTo`. */
function gitServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void, tls?: { key: string; cert: string }) {
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  return {
    listen: () => new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function challenge(hits: Hit[], redirect?: { from: string; to: string }) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const host = req.headers.host ?? "";
    hits.push({ host, authorization: req.headers.authorization });
    if (redirect && host.startsWith(redirect.from)) {
      res.writeHead(302, { location: `https://${redirect.to}${req.url ?? "/"}` }).end();
    } else if (!req.headers.authorization) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end();
    } else {
      res.writeHead(403).end("denied");
    }
  };
}

describe("git credentials", () => {
  let root: string;
  let tls: { key: string; cert: string };
  let caFile: string;
  let n = 0;
  const workspace = () => join(root, `ws-${++n}`);
  const saved = { ...process.env };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-git-cred-"));
    const key = join(root, "key.pem");
    caFile = join(root, "cert.pem");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", key, "-out", caFile, "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ], { stdio: "ignore" });
    tls = { key: await readFile(key, "utf8"), cert: await readFile(caFile, "utf8") };
  });

  beforeEach(() => {
    // git trusts the throwaway certificate as it would a public CA's.
    process.env.GIT_SSL_CAINFO = caFile;
  });

  afterEach(() => {
    process.env = { ...saved };
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("gives the token to a listed host over https", async () => {
    const hits: Hit[] = [];
    const server = gitServer(challenge(hits), tls);
    const port = await server.listen();
    try {
      const r = await cloneRepo({ url: `https://127.0.0.1:${port}/repo.git`, dir: workspace(), branch: "b", credentials: { httpsToken: TOKEN, httpsUser: "bot", hosts: [`127.0.0.1:${port}`] } });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).not.toContain(TOKEN);
    } finally {
      await server.close();
    }
    expect(hits.map((h) => h.authorization)).toContain(BASIC);
  });

  it("attack: a task names a server of its own; the token is not sent to an unlisted host", async () => {
    const hits: Hit[] = [];
    const server = gitServer(challenge(hits), tls);
    const port = await server.listen();
    try {
      const r = await cloneRepo({ url: `https://localhost:${port}/repo.git`, dir: workspace(), branch: "b", credentials: { httpsToken: TOKEN, httpsUser: "bot", hosts: [`127.0.0.1:${port}`] } });
      expect(r.ok).toBe(false);
    } finally {
      await server.close();
    }
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.filter((h) => h.authorization !== undefined)).toEqual([]);
  });

  it("attack: a task names the listed host over plain http; the token is not sent in the clear", async () => {
    const hits: Hit[] = [];
    const server = gitServer(challenge(hits));
    const port = await server.listen();
    try {
      const r = await cloneRepo({ url: `http://127.0.0.1:${port}/repo.git`, dir: workspace(), branch: "b", credentials: { httpsToken: TOKEN, httpsUser: "bot", hosts: [`127.0.0.1:${port}`] } });
      expect(r.ok).toBe(false);
    } finally {
      await server.close();
    }
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.filter((h) => h.authorization !== undefined)).toEqual([]);
  });

  it("attack: the listed host redirects to another one; git does not follow and the token goes nowhere", async () => {
    const hits: Hit[] = [];
    let port = 0;
    const server = gitServer((req, res) => challenge(hits, { from: "127.0.0.1", to: `localhost:${port}` })(req, res), tls);
    port = await server.listen();
    try {
      const r = await cloneRepo({ url: `https://127.0.0.1:${port}/repo.git`, dir: workspace(), branch: "b", credentials: { httpsToken: TOKEN, httpsUser: "bot", hosts: [`127.0.0.1:${port}`] } });
      expect(r.ok).toBe(false);
    } finally {
      await server.close();
    }
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.filter((h) => h.host.startsWith("localhost"))).toEqual([]);
    expect(hits.filter((h) => h.authorization !== undefined)).toEqual([]);
  });

  it("attack: no host is listed; the token goes to no one, not even over https", async () => {
    const hits: Hit[] = [];
    const server = gitServer(challenge(hits), tls);
    const port = await server.listen();
    try {
      await cloneRepo({ url: `https://127.0.0.1:${port}/repo.git`, dir: workspace(), branch: "b", credentials: { httpsToken: TOKEN, httpsUser: "bot" } });
    } finally {
      await server.close();
    }
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.filter((h) => h.authorization !== undefined)).toEqual([]);
    expect(gitEnv({ httpsToken: TOKEN }, {}).TETHER_GIT_PASSWORD).toBeUndefined();
  });

  it("keeps a credential helper in the operator's own git config from answering for a task", async () => {
    const home = join(root, "operator-home");
    await mkdir(home, { recursive: true });
    const hits: Hit[] = [];
    const server = gitServer(challenge(hits), tls);
    const port = await server.listen();
    const leaked = `ghp_operator_personal_token`;
    await writeFile(
      join(home, ".gitconfig"),
      `[credential]\n\thelper = "!f() { echo username=me; echo password=${leaked}; }; f"\n[credential "https://localhost:${port}"]\n\thelper = "!f() { echo username=me; echo password=${leaked}; }; f"\n`,
    );
    process.env.HOME = home;
    try {
      await cloneRepo({ url: `https://localhost:${port}/repo.git`, dir: workspace(), branch: "b", credentials: { httpsToken: TOKEN, httpsUser: "bot", hosts: [`127.0.0.1:${port}`] } });
    } finally {
      await server.close();
    }
    expect(hits.length).toBeGreaterThan(0);
    const sent = hits.map((h) => Buffer.from((h.authorization ?? "").replace(/^Basic /, ""), "base64").toString());
    expect(sent.filter((s) => s.includes(leaked))).toEqual([]);
  });

  it("attack: git@host:path without a configured key cannot use the operator's ssh agent, config or keys", async () => {
    const bin = join(root, "fake-ssh-bin");
    await mkdir(bin, { recursive: true });
    const record = join(root, "ssh-record");
    await writeFile(join(bin, "ssh"), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nprintf 'SSH_AUTH_SOCK=%s\\n' "\${SSH_AUTH_SOCK-unset}" >> '${record}'\nexit 255\n`, { mode: 0o755 });
    process.env.PATH = `${bin}:${process.env.PATH ?? ""}`;
    process.env.SSH_AUTH_SOCK = join(root, "operator-agent.sock");
    const r = await cloneRepo({ url: "git@127.0.0.1:someone/repo.git", dir: workspace(), branch: "b", credentials: { httpsToken: TOKEN, hosts: ["127.0.0.1"] } });
    expect(r.ok).toBe(false);
    const lines = (await readFile(record, "utf8")).split("\n");
    expect(lines).toContain("SSH_AUTH_SOCK=unset");
    expect(lines).not.toContain("-i");
    const options = lines.flatMap((l, i) => (lines[i - 1] === "-o" ? [l] : []));
    expect(options).toEqual(expect.arrayContaining(["IdentityAgent=none", "IdentityFile=none", "IdentitiesOnly=yes", "BatchMode=yes"]));
    expect(lines.slice(0, 2)).toEqual(["-F", "/dev/null"]);
  });

  it("a configured ssh key is the only identity, without the operator's agent", () => {
    const env = gitEnv({ sshKeyPath: "/keys/deploy key" }, { SSH_AUTH_SOCK: "/tmp/agent.sock", PATH: "/bin" });
    expect(env.SSH_AUTH_SOCK).toBeUndefined();
    expect(env.GIT_SSH_COMMAND).toBe("ssh -i '/keys/deploy key' -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=accept-new");
  });
});
