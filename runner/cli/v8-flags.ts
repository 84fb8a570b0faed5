/**
 * V8 settings for a long-running daemon that mostly waits (runner/README.md, "Memory"), set
 * as the process starts: runner/cli/run.ts imports this module first, so they hold before the
 * runner's modules load, however the bundle is started (the bin, the runner image). Both are
 * read where V8 decides, not only when the heap is made, so setting them here takes effect:
 * - the young generation keeps its first semi-space (1 MB) instead of growing to 8 MB while
 *   start-up allocates and holding that until the memory reducer runs (about 4 MB resident);
 * - functions stay in the interpreter and the baseline compiler: the optimizing compiler's
 *   machine code and working memory (about 4 MB resident once it has run) cost more than the
 *   little JavaScript the runner runs between Docker, SQLite and socket calls.
 */
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--semi-space-growth-factor=1");
setFlagsFromString("--no-opt");
