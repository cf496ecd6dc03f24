#!/usr/bin/env node
/**
 * The one entry point of sfx: `node cli.ts …`, `deno run -A cli.ts …`, and
 * the bundled single executable all start here. It only hands argv to the
 * command line in `src/cli/main.ts` and exits with its status.
 *
 * No top-level await: the single executable runs this bundled as CommonJS.
 */
// First, before the rest is loaded: no debugger on SIGUSR1, no end on a SIGHUP to a starting server (see the module).
import "./src/cli/early_signals.ts";

// The rest by a dynamic import: a static one is loaded (and, from source, its TypeScript stripped),
// module graph and all, before the line above runs, which left half a second without those listeners.
import("./src/cli/main.ts").then(({ main }) => main(process.argv.slice(2))).then(
  (status) => {
    process.exitCode = status;
  },
  (err) => {
    // main() reports every error itself; reaching here is a bug.
    console.error("sfx: internal error:", err);
    process.exitCode = 1;
  },
);
