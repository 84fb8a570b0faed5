/**
 * An esbuild plugin for bundles that use zod: zod re-exports every locale it has
 * (`z.locales`), and a namespace re-export keeps them all in the bundle (about 260 KiB) and
 * evaluates them at load. Tether speaks English: the bundle gets zod's English locale only.
 * Used by the web app's build (edge/web/build.mts) and the runner's (runner/build.ts).
 */
import { dirname, join } from "node:path";
import type { Plugin } from "esbuild";

export const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), "..", "locales", "index.js"), namespace: "zod-locales" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), "en.js"))};`,
      loader: "js",
      resolveDir: dirname(args.path),
    }));
  },
};
