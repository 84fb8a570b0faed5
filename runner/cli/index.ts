/**
 * The `tether-runner` command line (main.ts), as runner/bin/tether-runner.js runs it. The
 * commands live beside it: register.ts, start.ts, status.ts, doctor.ts.
 */
export { buildProgram } from "./main.ts";
