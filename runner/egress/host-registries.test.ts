import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseAptSources, parsePipConfigList, readHostRegistries, registryEnv, rulesOfRegistries } from "./host-registries.ts";

describe("the host's registries", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads npm's registry and pip's index from the host's configuration, and apt's sources from its files", async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-registries-"));
    await mkdir(join(dir, "sources.list.d"));
    await writeFile(join(dir, "sources.list"), "# a comment\ndeb http://mirror-a.test/debian bookworm main\n");
    await writeFile(join(dir, "sources.list.d", "extra.sources"), "Types: deb\nURIs: https://mirror-b.test/debian\nSuites: bookworm\n");
    const env = { ...process.env, npm_config_registry: "http://127.0.0.1:4873/", PIP_INDEX_URL: "https://pypi-mirror.test/simple", PIP_EXTRA_INDEX_URL: "", PIP_CONFIG_FILE: "/dev/null" };
    const registries = await readHostRegistries({ env, aptDir: dir });
    expect(registries.npmRegistry).toBe("http://127.0.0.1:4873/");
    expect(registries.pipIndexURL).toBe("https://pypi-mirror.test/simple");
    expect(registries.aptURLs).toEqual(["http://mirror-a.test/debian", "https://mirror-b.test/debian"]);
    expect(rulesOfRegistries(registries)).toEqual([
      { host: "127.0.0.1", port: 4873 },
      { host: "pypi-mirror.test", port: 443 },
      { host: "mirror-a.test", port: 80 },
      { host: "mirror-b.test", port: 443 },
    ]);
    expect(registryEnv(registries)).toEqual({ npm_config_registry: "http://127.0.0.1:4873/", PIP_INDEX_URL: "https://pypi-mirror.test/simple" });
  });

  it("passes on only http(s) indexes: a file:// index is a path on the host", async () => {
    const env = { ...process.env, PIP_CONFIG_FILE: "/dev/null", PIP_INDEX_URL: "file:///srv/simple", PIP_EXTRA_INDEX_URL: "file:///a https://b.test/simple" };
    const registries = await readHostRegistries({ env, aptDir: "/nonexistent" });
    expect(registries.pipIndexURL).toBeUndefined();
    expect(registries.pipExtraIndexURLs).toEqual(["https://b.test/simple"]);
  });

  it("parses pip's config list and apt's one-line and deb822 sources", () => {
    expect(parsePipConfigList("global.index-url='https://a.test/simple'\nuser.extra-index-url='https://b.test/simple'\n")).toEqual({
      "index-url": "https://a.test/simple",
      "extra-index-url": "https://b.test/simple",
    });
    expect(parseAptSources("deb [arch=amd64 signed-by=/k.gpg] https://c.test/ubuntu jammy main\ndeb cdrom:[x]/ y main\n#deb http://d.test/ z\nURIs: http://e.test/a http://f.test/b\n")).toEqual([
      "https://c.test/ubuntu",
      "http://e.test/a",
      "http://f.test/b",
    ]);
  });
});
