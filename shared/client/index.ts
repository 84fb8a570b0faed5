/**
 * The Tether client SDK: typed REST calls for every public route, a resuming task stream,
 * and pure helpers to show a task (activity feed, diff, terminal colours). Needs only
 * `fetch` and `WebSocket`, so browsers, React Native and Node (with `ws`) can all use it.
 * Answers and frames are parsed with the shared zod schemas (`ZOD_CHECKS`); `light.ts` is
 * the same SDK with plain shape checks and no zod, for bundles that count their bytes.
 */
import { TetherClient as ClientCore, type TetherClientOptions } from "./tether-client.ts";
import { ZOD_CHECKS } from "./zod-checks.ts";

// Everything of light.ts but its TetherClient: this module's own export below takes the name.
export * from "./light.ts";
export { ZOD_CHECKS } from "./zod-checks.ts";

/** A `TetherClient` whose answers and frames are parsed with the zod schemas unless `checks` says otherwise. */
export class TetherClient extends ClientCore {
  constructor(options: TetherClientOptions) {
    super({ ...options, checks: options.checks ?? ZOD_CHECKS });
  }
}
