/**
 * The package registries this runner's own host is configured to use, read at run time:
 * npm's registry (`npm config get registry`), pip's index and extra indexes (`PIP_INDEX_URL`,
 * `PIP_EXTRA_INDEX_URL`, `pip config list`) and apt's sources (/etc/apt/sources.list and
 * sources.list.d, one-line and deb822). Nothing here names a registry: what the host says is
 * what the setup phase may reach, and what the container's npm and pip are pointed at.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { HostRule } from "./host-rule.ts";
import { ruleOfURL } from "./host-rule.ts";

const run = promisify(execFile);

export interface HostRegistries {
  npmRegistry?: string;
  pipIndexURL?: string;
  pipExtraIndexURLs: string[];
  aptURLs: string[];
}

export interface ReadOptions {
  env?: NodeJS.ProcessEnv;
  aptDir?: string;
}

/** Reads what the host's npm, pip and apt use; a tool that is missing adds nothing. */
export async function readHostRegistries(opts: ReadOptions = {}): Promise<HostRegistries> {
  const env = opts.env ?? process.env;
  const [npmRegistry, pipConfig, aptURLs] = await Promise.all([readNpmRegistry(env), readPipConfig(env), readAptURLs(opts.aptDir ?? "/etc/apt")]);
  // Only http(s) indexes reach a container; a file:// index is a path on the host.
  const pipIndexURL = [env.PIP_INDEX_URL || pipConfig["index-url"]].find((u) => u && isHTTP(u));
  const extra = env.PIP_EXTRA_INDEX_URL || pipConfig["extra-index-url"] || "";
  return {
    ...(npmRegistry ? { npmRegistry } : {}),
    ...(pipIndexURL ? { pipIndexURL } : {}),
    pipExtraIndexURLs: extra.split(/\s+/).filter(isHTTP),
    aptURLs,
  };
}

/** The setup phase's rules for these registries: each URL's host and port. */
export function rulesOfRegistries(registries: HostRegistries): HostRule[] {
  const urls = [registries.npmRegistry, registries.pipIndexURL, ...registries.pipExtraIndexURLs, ...registries.aptURLs];
  const rules = urls.flatMap((url) => (url ? [ruleOfURL(url)] : [])).filter((r): r is HostRule => r !== undefined);
  const seen = new Set<string>();
  return rules.filter((r) => !seen.has(`${r.host}:${r.port}`) && seen.add(`${r.host}:${r.port}`));
}

/** The container's tools pointed at the host's registries. */
export function registryEnv(registries: HostRegistries): Record<string, string> {
  return {
    ...(registries.npmRegistry ? { npm_config_registry: registries.npmRegistry } : {}),
    ...(registries.pipIndexURL ? { PIP_INDEX_URL: registries.pipIndexURL } : {}),
    ...(registries.pipExtraIndexURLs.length > 0 ? { PIP_EXTRA_INDEX_URL: registries.pipExtraIndexURLs.join(" ") } : {}),
  };
}

async function readNpmRegistry(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout } = await run("npm", ["config", "get", "registry"], { env, timeout: 20_000 });
    const value = stdout.trim();
    return isHTTP(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `pip config list` prints `global.index-url='…'` lines; the key after the section is what counts. */
async function readPipConfig(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  for (const [cmd, args] of [
    ["pip3", ["config", "list"]],
    ["python3", ["-m", "pip", "config", "list"]],
  ] as const) {
    try {
      const { stdout } = await run(cmd, [...args], { env, timeout: 20_000 });
      return parsePipConfigList(stdout);
    } catch {
      // The next way to ask pip, or no pip on this host.
    }
  }
  return {};
}

export function parsePipConfigList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^[\w-]+\.([\w-]+)='(.*)'$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

async function readAptURLs(aptDir: string): Promise<string[]> {
  const files = [join(aptDir, "sources.list")];
  const names = await readdir(join(aptDir, "sources.list.d")).catch(() => [] as string[]);
  files.push(...names.filter((n) => n.endsWith(".list") || n.endsWith(".sources")).map((n) => join(aptDir, "sources.list.d", n)));
  const urls: string[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8").catch(() => "");
    urls.push(...parseAptSources(text));
  }
  return [...new Set(urls)];
}

/** The http(s) URLs of `deb …` lines and of deb822 `URIs:` fields. */
export function parseAptSources(text: string): string[] {
  const urls: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const deb = /^deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    const uris = /^URIs:\s*(.+)$/i.exec(line);
    const found = deb?.[1] ? [deb[1]] : uris?.[1] ? uris[1].split(/\s+/) : [];
    urls.push(...found.filter(isHTTP));
  }
  return urls;
}

function isHTTP(url: string): boolean {
  return /^https?:\/\//i.test(url);
}
