/**
 * The `tether-runner` process (the bundle's entry): sets the V8 flags, then loads the command
 * line and runs the command. main.ts is imported after the flags are set, not beside them, so
 * none of the runner's modules loads before they hold.
 */
import "./v8-flags.ts";

const { buildProgram } = await import("./main.ts");
await buildProgram().parseAsync(process.argv);
