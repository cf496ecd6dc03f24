import { test } from "uvu";
import * as assert from "uvu/assert";
import { canonicalAddress, formatAddress } from "../../src/transport/datagram.ts";

test("formatAddress() brackets IPv6 hosts, so the port cannot be read as part of the address", () => {
  assert.is(formatAddress("127.0.0.1", 6969), "127.0.0.1:6969");
  assert.is(formatAddress("::1", 42286), "[::1]:42286");
  assert.is(formatAddress("fe80::1%eth0", 7), "[fe80::1%eth0]:7");
  assert.is(formatAddress("files.example", 6969), "files.example:6969");
});

test("canonicalAddress() writes IPv6 as received datagrams carry it; IPv4, names and nonsense pass unchanged", () => {
  assert.is(canonicalAddress("0:0:0:0:0:0:0:1"), "::1");
  assert.is(canonicalAddress("::0001"), "::1");
  assert.is(canonicalAddress("FE80::1"), "fe80::1");
  assert.is(canonicalAddress("fe80:0::1%eth0"), "fe80::1%eth0");
  assert.is(canonicalAddress("0:0:0:0:0:ffff:7f00:1"), "::ffff:127.0.0.1");
  assert.is(canonicalAddress("127.0.0.1"), "127.0.0.1");
  assert.is(canonicalAddress("files.example"), "files.example");
  assert.is(canonicalAddress("not:an:address"), "not:an:address");
});

test.run();
