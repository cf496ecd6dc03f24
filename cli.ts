#!/usr/bin/env node
/**
 * The one entry point of sfx: `node cli.ts …`, `deno run -A cli.ts …`, and
 * the bundled single executable all start here. It only hands argv to the
 * command line in `src/cli/main.ts` and exits with its status.
 *
 * No top-level await: the single executable runs this bundled as CommonJS.
 */
// First, before the rest is loaded: no debugger on SIGUSR1 (see the module).
import "./src/cli/no_debugger.ts";
import { main } from "./src/cli/main.ts";

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (err) => {
    // main() reports every error itself; reaching here is a bug.
    console.error("sfx: internal error:", err);
    process.exitCode = 1;
  },
);
