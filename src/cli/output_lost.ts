/**
 * Whether sfx's output could be written: set by the CLI's handler of
 * stdout's and stderr's errors (see `ignoreClosedOutput` in main.ts), read by
 * a command whose output is the point of running it (`sfx receive`'s ID).
 *
 * @module
 */

let lost: { stream: "stdout" | "stderr"; error: NodeJS.ErrnoException } | undefined;

/** Records the first failure to write (a reader gone away, EPIPE, is not one). */
export function setOutputLost(stream: "stdout" | "stderr", error: NodeJS.ErrnoException): void {
  lost ??= { stream, error };
}

/** The first failure to write output, if there was one. */
export function outputLost(): { stream: "stdout" | "stderr"; error: NodeJS.ErrnoException } | undefined {
  return lost;
}
