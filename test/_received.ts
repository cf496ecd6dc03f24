/**
 * Watching the data messages a client connection delivers, for the tests
 * that prove received messages are freed once written.
 */
import type { ClientConnection } from "../src/client/connection.ts";
import { RECEIVED_HEADER_BYTES } from "../src/protocol/release.ts";

export interface ReceivedWatch {
  /** Messages that had their buffer to themselves when delivered: the ones a release frees. */
  own: Uint8Array[];
  /** Messages that shared their datagram with other chunks (left to the GC). */
  shared: number;
  stop(): void;
}

/** Register before the code under test: the watch sees every data message first. */
export function watchReceived(conn: ClientConnection): ReceivedWatch {
  const watch: ReceivedWatch = {
    own: [],
    shared: 0,
    stop: conn.onData((_stream, d) => {
      if (d.buffer.byteLength - d.byteLength <= RECEIVED_HEADER_BYTES) watch.own.push(d);
      else watch.shared++;
    }),
  };
  return watch;
}
