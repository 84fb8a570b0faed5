#!/usr/bin/env node
// Runs runner/main.ts through tsx's loader, so a checkout works with no build step.
import { register } from "tsx/esm/api";

register();
await import("../main.ts");
