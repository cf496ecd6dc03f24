#!/usr/bin/env node
/**
 * The one entry point of sfx: `node cli.ts …`, `deno run -A cli.ts …`, and
 * the bundled single executable all start here. It only hands argv to the
 * command line in `src/cli/main.ts` and exits with its status.
 *
 * No top-level await: the single executable runs this bundled as CommonJS.
 */
import { main } from "./src/cli/main.ts";

// Node opens its debugger, on a local port any user of the machine can reach,
// when a process gets SIGUSR1 and nothing listens for it. sfx never wants that
// (`sfx serve` often runs as root). The single executable is also built with
// --disable-sigusr1; this covers `node cli.ts` (Deno has no such debugger).
process.on("SIGUSR1", () => {});

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
