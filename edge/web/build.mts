/**
 * Builds the phone web app into edge/public (the Worker's static assets): app.js and
 * app.css bundled by esbuild (Preact, the light client SDK: nothing loaded from a CDN), the
 * chunks of the screens loaded on first use (`import()`: new task with zod, diff, settings,
 * adding a runner) and the chunks app.js shares with them, index.html (which preloads
 * app.js's chunks so the first load takes one round trip), the web manifest, the icons (SVG,
 * and PNGs drawn here), the service worker, whose cache is named after a hash of everything it
 * serves and holds every chunk, and `_headers` (the CSP and other security headers of every
 * asset). It prints the first load's JavaScript gzipped (the bench holds it to its budget).
 *
 *   npm run build:web            one build
 *   npm run build:web -- --watch  rebuild on change
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { zodEnglishOnly } from "../../scripts/zod-english-only.ts";
import { iconPNG } from "./icon-png.mts";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "public");

const options: esbuild.BuildOptions = {
  entryPoints: { app: join(here, "main.tsx") },
  outdir: out,
  bundle: true,
  format: "esm",
  splitting: true,
  chunkNames: "chunk-[hash]",
  target: ["es2022", "chrome110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
  plugins: [zodEnglishOnly],
};

/** The JavaScript files of a build, by name, and those app.js imports statically (its first load). */
function scriptsOf(meta: esbuild.Metafile): { all: string[]; firstLoad: string[] } {
  const name = (path: string) => path.split("/").pop()!;
  const outputs = meta.outputs;
  const all = Object.keys(outputs).filter((f) => f.endsWith(".js")).map(name).sort();
  const entry = Object.keys(outputs).find((f) => name(f) === "app.js")!;
  const seen = new Set<string>([entry]);
  for (const file of seen) for (const i of outputs[file]?.imports ?? []) if (i.kind === "import-statement") seen.add(i.path);
  return { all, firstLoad: [...seen].map(name) };
}

async function writeShell(meta: esbuild.Metafile): Promise<string> {
  const scripts = scriptsOf(meta);
  const hash = createHash("sha256");
  for (const file of [...scripts.all, "app.css"]) hash.update(file).update(await readFile(join(out, file)));
  const version = hash.digest("hex").slice(0, 12);
  const chunks = scripts.all.filter((f) => f !== "app.js").map((f) => `/${f}`);
  const preload = scripts.firstLoad
    .filter((f) => f !== "app.js")
    .map((f) => `<link rel="modulepreload" href="/${f}">`)
    .join("\n");
  const icons: Record<string, Buffer> = {
    "icon-192.png": iconPNG(192),
    "icon-512.png": iconPNG(512),
    "icon-maskable-512.png": iconPNG(512, true),
  };
  const shell = ["/", `/app.js?v=${version}`, ...chunks, `/app.css?v=${version}`, "/manifest.webmanifest", "/icon.svg", ...Object.keys(icons).map((n) => `/${n}`)];
  const html = (await readFile(join(here, "index.html"), "utf8")).replaceAll("__VERSION__", version).replace("__PRELOAD__", preload);
  const sw = (await readFile(join(here, "sw.js"), "utf8")).replace("__VERSION__", version).replace("__SHELL__", JSON.stringify(shell));
  await Promise.all([
    writeFile(join(out, "index.html"), html),
    writeFile(join(out, "sw.js"), sw),
    writeFile(join(out, "manifest.webmanifest"), await readFile(join(here, "manifest.webmanifest"))),
    writeFile(join(out, "icon.svg"), await readFile(join(here, "icon.svg"))),
    writeFile(join(out, "_headers"), await readFile(join(here, "_headers"))),
    ...Object.entries(icons).map(([name, png]) => writeFile(join(out, name), png)),
  ]);
  return version;
}

async function main(): Promise<void> {
  const started = Date.now();
  await mkdir(out, { recursive: true });
  // .gitkeep keeps the folder in git: wrangler refuses to start without its assets folder.
  const stale = (await readdir(out)).filter((name) => name !== ".gitkeep");
  await Promise.all(stale.map((name) => rm(join(out, name), { recursive: true, force: true })));
  if (process.argv.includes("--watch")) {
    const ctx = await esbuild.context({
      ...options,
      plugins: [zodEnglishOnly, { name: "shell", setup: (b) => b.onEnd(async (r) => void (r.errors.length === 0 && r.metafile && console.log(`web app rebuilt (${await writeShell(r.metafile)})`))) }],
    });
    await ctx.watch();
    return;
  }
  const result = await esbuild.build(options);
  const meta = result.metafile!;
  const version = await writeShell(meta);
  const { all, firstLoad } = scriptsOf(meta);
  const gzipped = (files: string[]) => Promise.all(files.map(async (f) => gzipSync(await readFile(join(out, f)), { level: 9 }).length)).then((sizes) => sizes.reduce((a, b) => a + b, 0));
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const zodFirst = Object.entries(meta.outputs)
    .filter(([file]) => firstLoad.includes(file.split("/").pop()!))
    .some(([, o]) => Object.keys(o.inputs).some((input) => input.includes("node_modules/zod/")));
  // The first load imports the light SDK (shared/client/light.ts) and zod-free helpers only;
  // a value import of a schema module (shared/task.ts, api.ts, …) brings zod back.
  if (zodFirst) console.warn("web app: zod is in the first load: some module on the way to the task list imports a schema as a value");
  console.log(
    `web app ${version} built into edge/public in ${Date.now() - started} ms: first load ${firstLoad.length} scripts, ${kib(await gzipped(firstLoad))} gzipped; ` +
      `${all.length} scripts in all, ${kib(await gzipped(all))} gzipped`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
