/**
 * Gate for tests that need a Docker engine. They run whenever an engine answers; when none
 * does they are skipped with the reason printed, and with TETHER_REQUIRE_DOCKER=1 they fail.
 */
import Docker from "dockerode";
import { describe, it } from "vitest";

export async function dockerReachable(): Promise<boolean> {
  try {
    await new Docker().ping();
    return true;
  } catch {
    return false;
  }
}

const engine = await dockerReachable();

/** `describe` for suites that need the engine. */
export function describeDocker(name: string, body: () => void): void {
  if (engine) {
    describe(name, body);
  } else if (process.env.TETHER_REQUIRE_DOCKER === "1") {
    describe(name, () => {
      it("has a Docker engine", () => {
        throw new Error(`TETHER_REQUIRE_DOCKER=1 but no Docker engine answers on ${process.env.DOCKER_HOST ?? "/var/run/docker.sock"}`);
      });
    });
  } else {
    console.warn(`[docker] skipping "${name}": no Docker engine answers (TETHER_REQUIRE_DOCKER=1 makes this a failure)`);
    describe.skip(name, body);
  }
}
