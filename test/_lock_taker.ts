/**
 * A child process for test/file_lock.test.ts: takes the locks named on its
 * command line (made as sfx's writes make them, see src/fs_calls.ts), says
 * which it won (one JSON line), and holds them until its standard input ends.
 */
import { dirname } from "node:path";
import { takeLock } from "../src/file_lock.ts";
import { callsFor } from "../src/fs_calls.ts";

const locks = process.argv.slice(2);
const won = await Promise.all(locks.map(async (l) => takeLock(l, await callsFor(dirname(l)))));
process.stdout.write(`${JSON.stringify(won.flatMap((w, i) => (w ? [i] : [])))}\n`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
