#!/usr/bin/env node
// Runs the command line (runner/cli/) through tsx's loader, so a checkout works with no build step.
import { register } from "tsx/esm/api";

register();
const { buildProgram } = await import("../cli/index.ts");
await buildProgram().parseAsync(process.argv);
