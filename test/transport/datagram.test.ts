import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatAddress } from "../../src/transport/datagram.ts";

test("formatAddress() brackets IPv6 hosts, so the port cannot be read as part of the address", () => {
  assert.is(formatAddress("127.0.0.1", 6969), "127.0.0.1:6969");
  assert.is(formatAddress("::1", 42286), "[::1]:42286");
  assert.is(formatAddress("fe80::1%eth0", 7), "[fe80::1%eth0]:7");
  assert.is(formatAddress("files.example", 6969), "files.example:6969");
});

test.run();
