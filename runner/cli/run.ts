/** The `tether-runner` process: parses the command line and runs the command (the bundle's entry). */
import { buildProgram } from "./main.ts";

await buildProgram().parseAsync(process.argv);
