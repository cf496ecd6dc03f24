/**
 * A child process for test/file_lock.test.ts: takes the locks named on its
 * command line, says which it won (one JSON line), and holds them until its
 * standard input ends.
 */
import { takeLock } from "../src/file_lock.ts";

const locks = process.argv.slice(2);
const won = await Promise.all(locks.map((l) => takeLock(l)));
process.stdout.write(`${JSON.stringify(won.flatMap((w, i) => (w ? [i] : [])))}\n`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
