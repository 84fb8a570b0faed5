/**
 * debian-mirror.sh: which of a host's apt sources is Debian's main archive, DEBIAN_MIRROR
 * first, and a clear failure when nothing names one.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "debian-mirror.sh");
const dirs: string[] = [];

function aptEtc(files: Record<string, string>): string {
  const etc = mkdtempSync(join(tmpdir(), "tether-apt-"));
  dirs.push(etc);
  mkdirSync(join(etc, "sources.list.d"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(etc, name), text);
  return etc;
}

function mirrorOf(etc: string, env: Record<string, string> = {}) {
  const { DEBIAN_MIRROR: _, ...rest } = process.env;
  const out = spawnSync("bash", [SCRIPT], { env: { ...rest, APT_ETC: etc, ...env }, encoding: "utf8" });
  return { status: out.status, stdout: out.stdout.trim(), stderr: out.stderr };
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const SECURITY = "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
const MAIN = "Types: deb\n# a snapshot comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
const THIRD_PARTY = "Types: deb\nURIs: https://vendor.example/node\nSuites: nodistro\nComponents: main\nSigned-By: /etc/apt/keyrings/vendor.gpg\n";

it("picks the release suite's URI from deb822 sources, not -security and not a third party's", () => {
  const etc = aptEtc({ "sources.list.d/a-vendor.sources": THIRD_PARTY, "sources.list.d/debian.sources": `${SECURITY}\n${MAIN}` });
  expect(mirrorOf(etc)).toMatchObject({ status: 0, stdout: "http://mirror.example/debian" });
});

it("skips a deb822 source that is disabled or only deb-src", () => {
  const disabled = MAIN.replace("mirror.example", "off.example") + "Enabled: no\n";
  const sourcesOnly = MAIN.replace("Types: deb", "Types: deb-src").replace("mirror.example", "src.example");
  const etc = aptEtc({ "sources.list.d/debian.sources": `${disabled}\n${sourcesOnly}\n${MAIN}` });
  expect(mirrorOf(etc).stdout).toBe("http://mirror.example/debian");
});

it("reads deb lines of sources.list when no deb822 file names the archive", () => {
  const etc = aptEtc({
    "sources.list": [
      "# deb http://commented.example/debian bookworm main",
      "deb http://security.example/debian-security bookworm-security main",
      "deb-src http://src.example/debian bookworm main",
      "deb [signed-by=/etc/apt/keyrings/vendor.gpg] https://vendor.example/node nodistro main",
      "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian bookworm main non-free",
    ].join("\n"),
  });
  expect(mirrorOf(etc)).toMatchObject({ status: 0, stdout: "http://mirror.example/debian" });
});

it("takes DEBIAN_MIRROR over the host's sources", () => {
  const etc = aptEtc({ "sources.list.d/debian.sources": MAIN });
  expect(mirrorOf(etc, { DEBIAN_MIRROR: "http://chosen.example/debian" }).stdout).toBe("http://chosen.example/debian");
});

it("fails with a message naming DEBIAN_MIRROR when no source is Debian's main archive", () => {
  const etc = aptEtc({ "sources.list.d/debian.sources": SECURITY, "sources.list.d/vendor.sources": THIRD_PARTY });
  const out = mirrorOf(etc);
  expect(out.status).toBe(1);
  expect(out.stdout).toBe("");
  expect(out.stderr).toContain("no Debian mirror: set DEBIAN_MIRROR");
});
