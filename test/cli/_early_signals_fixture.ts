/**
 * Run as `<runtime> test/cli/_early_signals_fixture.ts <sfx arguments…>`: takes
 * cli.ts's first module, then sends itself SIGHUP, and prints "alive" if that
 * did not end it.
 */
import "../../src/cli/early_signals.ts";

process.kill(process.pid, "SIGHUP");
setTimeout(() => console.log("alive"), 100); // the listener, if any, runs on a turn of the event loop before this
