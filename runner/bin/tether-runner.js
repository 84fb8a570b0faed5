#!/usr/bin/env node
// Runs runner/cli/main.ts through tsx's loader, so a checkout works with no build step.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
