/**
 * Builds the phone web app into edge/public (the Worker's static assets): app.js and
 * app.css bundled by esbuild (Preact, the client SDK, zod: nothing loaded from a CDN),
 * index.html, the web manifest, the icons (SVG, and PNGs drawn here), the service
 * worker, whose cache is named after a hash of everything it serves, and `_headers` (the
 * CSP and other security headers of every asset).
 *
 *   npm run build:web            one build
 *   npm run build:web -- --watch  rebuild on change
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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

async function writeShell(): Promise<string> {
  const [js, css] = await Promise.all([readFile(join(out, "app.js")), readFile(join(out, "app.css"))]);
  const version = createHash("sha256").update(js).update(css).digest("hex").slice(0, 12);
  const icons: Record<string, Buffer> = {
    "icon-192.png": iconPNG(192),
    "icon-512.png": iconPNG(512),
    "icon-maskable-512.png": iconPNG(512, true),
  };
  const shell = ["/", `/app.js?v=${version}`, `/app.css?v=${version}`, "/manifest.webmanifest", "/icon.svg", ...Object.keys(icons).map((n) => `/${n}`)];
  const html = (await readFile(join(here, "index.html"), "utf8")).replaceAll("__VERSION__", version);
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
      plugins: [zodEnglishOnly, { name: "shell", setup: (b) => b.onEnd(async (r) => void (r.errors.length === 0 && console.log(`web app rebuilt (${await writeShell()})`))) }],
    });
    await ctx.watch();
    return;
  }
  const result = await esbuild.build(options);
  const version = await writeShell();
  const bytes = Object.entries(result.metafile?.outputs ?? {})
    .filter(([file]) => !file.endsWith(".map") && !file.endsWith(".txt"))
    .map(([file, o]) => `${file.split("/").pop()} ${(o.bytes / 1024).toFixed(1)} KiB`)
    .join(", ");
  console.log(`web app ${version} built into edge/public in ${Date.now() - started} ms: ${bytes}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
