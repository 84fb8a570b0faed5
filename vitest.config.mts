import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // Edge code runs inside workerd, with the bindings of wrangler.toml.
        plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
        test: { name: "edge", include: ["edge/**/*.test.ts"] },
      },
      {
        test: {
          name: "node",
          include: ["shared/**/*.test.ts", "runner/**/*.test.ts", "worker-image/**/*.test.ts", "test/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
