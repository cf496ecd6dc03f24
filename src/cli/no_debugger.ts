/**
 * Node opens its debugger, on a local port any user of the machine can
 * reach, when a process gets SIGUSR1 and nothing listens for it; sfx never
 * wants that (`sfx serve` often runs as root). The single executable is
 * built with `--disable-sigusr1`, which closes it from the first
 * instruction; under `node cli.ts` this listener, imported by cli.ts before
 * anything else, leaves only Node's own start-up open. Deno's inspector
 * does not heed it (see the README).
 *
 * @module
 */
process.on("SIGUSR1", () => {});
