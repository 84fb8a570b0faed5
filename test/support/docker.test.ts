import { expect, it } from "vitest";
import { dockerReachable } from "./docker.ts";

it.runIf(process.env.TETHER_REQUIRE_DOCKER === "1")("finds the Docker engine CI requires", async () => {
  expect(await dockerReachable()).toBe(true);
});
