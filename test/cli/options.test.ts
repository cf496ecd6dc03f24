import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseBindHost, parseCount, parseLogLevel, parseDuration, parseHostPort, parseIPv4Interface, parsePort, parseRemotePort, parseTimeout } from "../../src/cli/options.ts";
import { refused } from "../_refused.ts";

test("parseDuration() takes units and bare seconds, and refuses zero and nonsense", () => {
  assert.is(parseDuration("500ms"), 500);
  assert.is(parseDuration("90"), 90_000);
  assert.is(parseDuration("1.5m"), 90_000);
  assert.is(parseDuration("7d"), 7 * 86_400_000);
  refused(() => parseDuration("0"), /more than zero/);
  refused(() => parseDuration("0s"), /more than zero/);
  refused(() => parseDuration("soon"), /Invalid duration 'soon'/);
  // Sums, as people write them; units are lowercase (M for minutes or months?), and the message says so.
  assert.is(parseDuration("1h30m"), 90 * 60_000);
  assert.is(parseDuration("1d 12h"), 36 * 3_600_000);
  assert.is(parseDuration("2m30s"), 150_000);
  refused(() => parseDuration("1H"), /Invalid duration '1H': use e\.g\. .*1h30m \(units are lowercase\)$/);
  refused(() => parseDuration("1h30"), /Invalid duration '1h30'/);
  refused(() => parseDuration("h"), /Invalid duration 'h'/);
});

test("parseCount() takes sizes with binary units and refuses zero (a limit of 0 refuses everything)", () => {
  assert.is(parseCount("100"), 100);
  assert.is(parseCount("64k"), 65_536);
  assert.is(parseCount("2G"), 2 * 2 ** 30);
  refused(() => parseCount("0"), /at least 1/);
  refused(() => parseCount("0G"), /at least 1/);
  refused(() => parseCount("-1"), /Invalid number/);
  // Past 2^53 a size is not exact, and the server could not put it in a welcome.
  assert.is(parseCount("8000T"), 8000 * 2 ** 40);
  refused(() => parseCount("9000T"), /too large \(at most 8191T\)/);
  assert.is(parseCount("8191T"), 8191 * 2 ** 40);
});

test("parseTimeout() refuses what a JavaScript timer cannot run (over 24.8 days fires at once); expiries may be longer", () => {
  assert.is(parseTimeout("24d"), 24 * 86_400_000);
  refused(() => parseTimeout("25d"), /at most 24d/);
  refused(() => parseTimeout("30d"), /at most 24d/);
  assert.is(parseDuration("30d"), 30 * 86_400_000);
});

test("ports: 0 is 'any' where we listen, never where we connect; interfaces are IPv4", () => {
  assert.is(parsePort("0"), 0);
  refused(() => parseRemotePort("0"), /from 1 to 65535/);
  refused(() => parsePort("70000"), /from 0 to 65535/);
  assert.equal(parseHostPort("[::1]:7000", 6969), { host: "::1", port: 7000 });
  assert.equal(parseHostPort("box", 6969), { host: "box", port: 6969 });
  refused(() => parseHostPort("box:0", 6969), /from 1 to 65535/);
  assert.equal(parseHostPort("::1", 6969), { host: "::1", port: 6969 });
  assert.equal(parseHostPort(" 10.0.0.1:7000 ", 6969), { host: "10.0.0.1", port: 7000 });
  refused(() => parseHostPort("[::1]:abc", 6969), /Invalid port 'abc': use a number from 1 to 65535/);
  refused(() => parseHostPort("[::1]:65536", 6969), /Invalid port '65536': use a number from 1 to 65535/);
  for (const bad of ["[::1", "::1]:7000", "[::1]7000"]) refused(() => parseHostPort(bad, 6969), /an IPv6 address goes in brackets, as \[::1\] or \[::1\]:6969/);
  // A port no group could be: the brackets it needs, from what was typed.
  refused(() => parseHostPort("::1:34102", 6969), /^Invalid server address '::1:34102': an IPv6 address goes in brackets: \[::1\]:34102$/);
  refused(() => parseHostPort("fd00::5:48003", 6969), /brackets: \[fd00::5\]:48003$/);
  // ::1:6969 is an address, and ::1 with a port: refused, saying how to write either (a guess sent to the other).
  refused(() => parseHostPort("::1:6969", 6969), /^Ambiguous server address '::1:6969': write \[::1\]:6969 for ::1 on port 6969, or \[::1:6969\] for that address on port 6969$/);
  refused(() => parseHostPort("2001:db8::7:22", 7000), /write \[2001:db8::7\]:22 for 2001:db8::7 on port 22, or \[2001:db8::7:22\] for that address on port 7000/);
  assert.equal(parseHostPort("[::1:6969]", 6969), { host: "::1:6969", port: 6969 });
  // Nothing else could be meant: taken whole.
  // Under Deno a link-local reply's source comes without its interface: refused there, saying so.
  if ("Deno" in globalThis) refused(() => parseHostPort("fe80::1%eth0", 6969), /under Deno sfx cannot talk to a link-local address/);
  else assert.equal(parseHostPort("fe80::1%eth0", 6969), { host: "fe80::1%eth0", port: 6969 });
  // What no client can reach: the wildcard a server binds (it waited 10 s for an answer), a
  // link-local address without its interface, or with the interface's number (a bare EINVAL).
  for (const any of ["0.0.0.0", "[::]:7000", "[::0]"]) refused(() => parseHostPort(any, 6969), /means any address, which a server listens on; this machine is 127\.0\.0\.1 or \[::1\]$/);
  refused(() => parseHostPort("[fe80::1]:7000", 6969), /a link-local address needs the interface it is on, as \[fe80::1%eth0\]:7000$/);
  refused(() => parseHostPort("[fe80::1%4]", 6969), /name the interface \(as 'ip link' lists it, e\.g\. %eth0\), not its number$/);
  assert.equal(parseHostPort("2001:db8::1:beef", 6969), { host: "2001:db8::1:beef", port: 6969 });
  assert.is(parseIPv4Interface("192.168.1.5"), "192.168.1.5");
  refused(() => parseIPv4Interface("::1"), /IPv4/);
  // An empty --host (an unset variable in a unit file) would bind every interface.
  for (const empty of ["", "  "]) refused(() => parseBindHost(empty), /Invalid --host '': give the address to bind/);
  assert.is(parseBindHost("::1"), "::1");
});

test("--log-level takes the levels, in any case, and warn for warning (the log lines say WARN)", () => {
  assert.is(parseLogLevel("warn"), "warning");
  assert.is(parseLogLevel("DEBUG"), "debug");
  assert.is(parseLogLevel("warning"), "warning");
  refused(() => parseLogLevel("loud"), /Invalid --log-level 'loud': use one of trace, debug, info, warning, error, fatal/);
});

test.run();
