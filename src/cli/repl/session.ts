/**
 * The live `sfx client` session: one connection at a time (with its ID),
 * always receivable, commands typed at a prompt while transfers run.
 *
 * - Typed lines go through {@link dispatchLine} (the one-shot commands'
 *   commander definitions); the actions here run them on the open
 *   connection with the client modules (`sendFiles`, `Receiver`,
 *   `ShareClient`), never a connection of their own.
 * - A transfer is a *job*: it runs in the background (the prompt stays
 *   usable, progress shows in the prompt) on a terminal, or to its end
 *   before the next line when input is piped. Ctrl-C aborts every running
 *   job and the incoming transfer; a second Ctrl-C (or `quit`, Ctrl-D)
 *   leaves, cancelling cleanly.
 * - An incoming offer prints who sends what and takes the prompt over for
 *   a y/N answer.
 * - A lost connection is reported once; `connect` opens a new one, with a
 *   new ID, said plainly.
 *
 * @module
 */
import { printable } from "../../protocol/schema.ts";
import { createInterface, type Interface } from "node:readline";
import { basename, resolve } from "node:path";
import { type ClientConnection, connect } from "../../client/connection.ts";
import { type IncomingOffer, keptTransfers, Receiver, receiveByCode } from "../../client/receive.ts";
import { sendByCode, sendFiles } from "../../client/send.ts";
import { describeKept, keptLine, resumingHere, takenNote } from "../receive.ts";
import { ASK_CODE, keptByReceiver, listen, typedCode } from "../send.ts";
import { collectFiles } from "../../client/walk.ts";
import { prepareDirectory } from "../../client/safe_write.ts";
import { collectShareFiles, connectionShareLink, type ShareProgress, ShareClient } from "../../client/share.ts";
import { offeredBytes, refusedBySfx, type TransferEvent } from "../../client/events.ts";
import { type DiscoveredServer, discoverServers, type DiscoverOptions, noServerError, sortServers } from "../../discovery/index.ts";
import { DISCOVERY_PORT } from "../../discovery/defaults.ts";
import { formatId } from "../../pairing/id_registry.ts";
import { parseCode } from "../../share/code.ts";
import { exitStatusFor, isSfxError, SfxError } from "../../errors.ts";
import { formatTable } from "../discover.ts";
import { parseHostPort } from "../options.ts";
import { checkingText, CODES_CLOSED_LINE, filesSummary, SAME_CODE_LINE, codeLine, codeText, missedCodeLine, formatBytes, formatDuration, formatDoneRate, formatRate, ID_ONLY_NOTE, LeftOut, leftOutName, renewedCodeLine, sendByCodeLines, verifyLine } from "../progress.ts";
import { ExchangeCode, parseReceiverTarget, parseSenderCode } from "../../protocol/exchange_code.ts";
import { downloadCommand, expiryText, gotDoneEvent, gotFileEvent, parseExpires, PLAIN_SHARE_NOTE } from "../share.ts";
import { buildSessionProgram, dispatchLine, errorLine, type SessionActions, type SessionGetFlags, type SessionPutFlags, type SessionSendFlags } from "./commands.ts";
import { makeCompleter } from "./completer.ts";
import { appendHistory, HISTORY_SIZE, loadHistory } from "./history.ts";
import { Screen } from "./screen.ts";
import { formatAddress } from "../../transport/datagram.ts";
import { REPEAT_WITHIN_MS } from "../../signal_repeat.ts";

/** What gives a session whose code is off a new one. */
const AGAIN = "quit and start sfx client again";

/** Options of {@link runSession}. */
export interface SessionOptions {
  /** `host[:port]`; discovered on the local network when absent. */
  server?: string;
  /** Where received files (and `share get` without --dir) go. */
  dir: string;
  /** Accept every offer without asking. */
  yes?: boolean;
  /** Replace existing files instead of writing `name (1).ext`. */
  overwrite?: boolean;
  /** Errors with their causes. */
  verbose?: boolean;
  /** Discovery wait, default 1 s. */
  discoveryTimeoutMs?: number;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream & { columns?: number; isTTY?: boolean };
  /** Where the prompt's history is kept across sessions (terminal only); none: in memory only. */
  historyFile?: string;
  /** Whether input and output are a terminal (default: both are TTYs). */
  terminal?: boolean;
  /** The clock of Ctrl-C's repeat window, in ms (default performance.now; for tests). */
  now?: () => number;
  /** @internal How long leaving waits for the running transfers to end, in ms (default 3 s; for tests). */
  settleMs?: number;
}

interface Job {
  n: number;
  label: string;
  /** What it does, for `status`: "send to 123 456, 2 files (3.1 MB)". */
  what: string;
  /** Its latest progress line (as in the prompt), if any. */
  progress?: string;
  controller: AbortController;
  done: Promise<void>;
}

interface Incoming {
  conn: ClientConnection;
  controller: AbortController;
  /** An exchange is in progress (accepted), not just waiting for an offer. */
  active: boolean;
  from: string;
  started?: number;
  /** Bytes a resumed transfer began with (kept here earlier): not counted in the rate. */
  resumed?: number;
  /** Its latest progress line (as in the prompt), if any. */
  progress?: string;
  /** Settles when the receive has ended and what it kept is said. */
  done: Promise<void>;
  /** Lines saying what it kept, said when it has ended. */
  kept: string[];
}

interface Server {
  host: string;
  port: number;
  name?: string;
}

/** Runs the interactive session until `quit`; resolves to the exit status. */
export function runSession(opts: SessionOptions): Promise<number> {
  return new ClientSession(opts).run();
}

class ClientSession implements SessionActions {
  readonly opts: SessionOptions;
  readonly dir: string;
  readonly terminal: boolean;
  rl!: Interface;
  screen!: Screen;
  #conn: ClientConnection | null = null;
  #shares: ShareClient | null = null;
  #connectedAt = 0;
  #server: Server | null = null;
  #lastId: string | null = null;
  /** This session's receive code: its secret digits stay across reconnects, the ID in front of them changes. */
  readonly #code = new ExchangeCode();
  #discovered: DiscoveredServer[] = [];
  #jobs = new Map<number, Job>();
  #jobN = 0;
  #incoming: Incoming | null = null;
  /** While `receive <code>` fetches a sender's files: settles when it ends (the session's own receiving waits for it). */
  #fetching: Promise<void> | null = null;
  #connecting: AbortController | null = null;
  /** When a Ctrl-C armed "the next Ctrl-C leaves" (for 5 s, or until a line is typed); 0: not armed. */
  #armedAt = 0;
  /** The last Ctrl-C that counted: read by readline (a key) or a signal, when (performance.now()), and what of the same press came since. */
  #lastInterrupt: { from: "key" | "signal"; at: number; absorbed: Set<"key" | "signal"> } | undefined;
  #quitting = false;
  /**
   * Without a terminal (commands piped in) the first command that fails ends
   * the session with its exit status, as `sftp -b` does: a script must not
   * run on after a failed step, and must see it failed.
   */
  #batchStatus: number | undefined;
  /** What ended a piped session ("a command failed"). */
  #batchWhy = "";
  /** Why the connection was lost, until the next connect. */
  #lostWith: SfxError | undefined;
  #chain: Promise<void> = Promise.resolve();
  #finish: (status: number) => void = () => {};

  constructor(opts: SessionOptions) {
    this.opts = opts;
    this.dir = resolve(opts.dir);
    const input = (opts.input ?? process.stdin) as { isTTY?: boolean };
    this.terminal = opts.terminal ?? Boolean(input.isTTY && (opts.output ?? process.stdout).isTTY);
  }

  async run(): Promise<number> {
    await prepareDirectory(this.dir);
    // readline reads from the moment it exists: its listeners go on right away, so no typed line is lost.
    const input = this.opts.input ?? process.stdin;
    const output = this.opts.output ?? process.stdout;
    const completer = makeCompleter(() => buildSessionProgram(this, () => {}));
    const history = this.terminal && this.opts.historyFile ? loadHistory(this.opts.historyFile) : [];
    this.rl = createInterface({ input, output, terminal: this.terminal, history, historySize: HISTORY_SIZE, removeHistoryDuplicates: true, completer, tabSize: 4 });
    this.screen = new Screen(this.rl, output, this.terminal);
    const finished = new Promise<number>((res) => (this.#finish = res));
    this.rl.on("line", (line) => this.#onLine(line));
    this.rl.on("SIGINT", () => this.#onInterrupt("key"));
    this.rl.on("close", () => {
      // Ctrl-D, or the end of piped input: finish what was typed, then leave.
      void this.#chain.then(() => this.quit());
    });
    const onSignal = () => this.#onInterrupt("signal");
    const onTerm = () => void this.quit();
    // A terminal closed under us: readline's leaving raw mode fails (setRawMode EIO), reported as an
    // 'error' on the input and on readline, which unheard crashed the session before its peers were
    // told. Left as on SIGHUP.
    const inputEvents = input as { on?(event: "error", l: () => void): void; off?(event: "error", l: () => void): void };
    inputEvents.on?.("error", onTerm);
    this.rl.on("error", onTerm);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onTerm);
    listen("SIGHUP", onTerm); // the terminal closed: leave as on SIGTERM (transfers cancelled, peers told)
    this.screen.setBasePrompt(this.#basePrompt());
    this.print(`sfx client: received files go to ${this.dir}. Type 'help' for the commands.`);
    // What earlier transfers left here is told as soon as it is known, while connecting, and before
    // the first command runs: its output, or a piped session's end, must not come ahead of it.
    const kept = keptTransfers(this.dir).then(({ kept, truncated }) => {
      if (!this.#quitting) for (const line of describeKept(kept, truncated)) this.print(line);
    }, () => {});
    this.#chain = this.#chain.then(() => this.#start()).catch((err) => this.#error("", err)).then(() => kept);
    void this.#chain.then(() => this.#next());
    try {
      return await finished;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onTerm);
      process.off("SIGHUP", onTerm);
      inputEvents.off?.("error", onTerm);
    }
  }

  // ---- output -----------------------------------------------------------

  print(text: string): void {
    this.screen.print(text);
  }

  #error(label: string, err: unknown): void {
    const line = errorLine(err, this.opts.verbose);
    if (line) this.print(label ? `${label}: ${line}` : line);
    this.#noteFailure(err);
  }

  #noteFailure(err: unknown, why = "a command failed"): void {
    if (!this.terminal && this.#batchStatus === undefined) {
      this.#batchStatus = exitStatusFor(err) || 1;
      this.#batchWhy = why;
    }
  }

  /** After a command: the prompt, or (piped input, a command failed) the end. */
  #next(): void | Promise<void> {
    if (this.#batchStatus === undefined) return this.#prompt();
    if (this.#quitting) return;
    this.print(`Stopping: ${this.#batchWhy} (exit status ${this.#batchStatus}) and input is not a terminal.`);
    return this.quit();
  }

  #prompt(): void {
    if (!this.#quitting) this.screen.prompt();
  }

  #basePrompt(): string {
    return this.#conn ? `sfx ${formatId(this.#conn.id)}> ` : "sfx (not connected)> ";
  }

  // ---- input ------------------------------------------------------------

  #onLine(line: string): void {
    this.#armedAt = 0;
    if (this.screen.answer(line)) return;
    if (this.#quitting) return;
    if (this.terminal && this.opts.historyFile) appendHistory(this.opts.historyFile, line);
    this.#chain = this.#chain
      .then(() => {
        // Piped input after a failed command is not run, nor what came after 'quit' (read before it ran).
        if (this.#batchStatus !== undefined || this.#quitting) return;
        return dispatchLine(line, this, (t) => this.print(t.replace(/\n$/, "")), this.opts.verbose, (err) => this.#noteFailure(err));
      })
      .catch((err) => this.#error("", err))
      .then(() => this.#next());
  }

  #onInterrupt(from: "key" | "signal"): void {
    // One Ctrl-C that reaches us twice within REPEAT_WITHIN_MS is one: read by readline and passed on as
    // a signal by a wrapper (`timeout --foreground`), or signalled to the process and to its group.
    // A press absorbs at most one of each kind; two keys are two presses. Only one that counts starts
    // the window: a run of signals closer than that must not hide them all.
    const at = this.opts.now ? this.opts.now() : performance.now();
    const last = this.#lastInterrupt;
    const samePress = last !== undefined && at - last.at < REPEAT_WITHIN_MS && !last.absorbed.has(from) && !(last.from === "key" && from === "key");
    if (samePress) {
      last.absorbed.add(from);
      return;
    }
    this.#lastInterrupt = { from, at, absorbed: new Set() };
    if (this.#quitting) {
      process.exit(130);
    }
    if (this.screen.asking) {
      this.print("^C");
      this.screen.answer(INTERRUPTED);
      return;
    }
    const armed = this.#armedAt > 0 && Date.now() - this.#armedAt < 5000;
    const running = this.#jobs.size > 0 || this.#incoming?.active || this.#connecting;
    if (running && !armed) {
      this.#armedAt = Date.now();
      for (const job of this.#jobs.values()) job.controller.abort();
      if (this.#incoming?.active) this.#incoming.controller.abort();
      this.#connecting?.abort();
      this.print("^C cancelling… (Ctrl-C again to quit)");
      return;
    }
    // A typed line is cleared, as a shell does, and that arms nothing: the next Ctrl-C is the first
    // again (a Ctrl-C soon after a cancel, clearing a line typed since, left the session).
    if (this.terminal && this.rl.line) {
      this.#armedAt = 0;
      this.rl.write(null, { ctrl: true, name: "e" });
      this.rl.write(null, { ctrl: true, name: "u" });
      return;
    }
    if (armed) {
      this.print("^C");
      void this.quit();
      return;
    }
    this.#armedAt = Date.now();
    this.print("^C (Ctrl-C again or 'quit' to leave)");
  }

  // ---- connection -------------------------------------------------------

  async #start(): Promise<void> {
    if (this.opts.server !== undefined) {
      await this.#connectTo(parseHostPort(this.opts.server, DISCOVERY_PORT)).catch((err) => this.#connectFailed(err));
      return;
    }
    this.print("Looking for sfx servers on the local network…");
    const servers = await discoverServers({ timeoutMs: this.opts.discoveryTimeoutMs ?? 1000 });
    if (servers.length === 0) {
      // Piped, the connection failing is the first command failing: the session ends with its status (3).
      if (!this.terminal) return this.#error("Cannot connect", noServerError({ timeoutMs: this.opts.discoveryTimeoutMs ?? 1000 }));
      this.print("No sfx server answered on the local network. Type 'connect <host[:port]>'.");
      return;
    }
    if (servers.length === 1) {
      await this.#connectTo(fromDiscovered(servers[0])).catch((err) => this.#connectFailed(err));
      return;
    }
    this.#discovered = sortServers(servers);
    this.print(`${servers.length} servers answered:\n${numberedTable(this.#discovered)}`);
    // Piped, nobody is there to choose (a line read now would be a command's): as 'sfx send' does, exit 3.
    if (!this.terminal) {
      return this.#error("Cannot connect", new SfxError("SFX_SEVERAL_SERVERS", `${servers.length} sfx servers answered: give the session --server ADDRESS:PORT`));
    }
    const answer = await this.screen.ask(`Connect to which? [1-${servers.length}] `);
    const n = Number(answer?.trim());
    if (!Number.isInteger(n) || n < 1 || n > servers.length) {
      this.print("Not connected. Type 'connect <n>' to pick one of the servers above, or 'connect <host[:port]>'.");
      return;
    }
    await this.#connectTo(fromDiscovered(this.#discovered[n - 1])).catch((err) => this.#connectFailed(err));
  }

  #connectFailed(err: unknown): void {
    if (isSfxError(err, "SFX_CANCELLED")) this.print("Not connected (cancelled). Type 'connect' to try again.");
    else this.#error("Cannot connect", err);
  }

  async #connectTo(server: Server): Promise<void> {
    // What a bare 'connect' tries next: the server of the last connection (#adopt), or, while none
    // was ever made, this one; never one that just failed over one that answered.
    this.#server ??= server;
    this.#adopt(await this.#open(server), server);
  }

  /** Opens a connection to `server` (Ctrl-C stops the attempt); the session does not use it yet. */
  async #open(server: Server): Promise<ClientConnection> {
    this.print(`Connecting to ${server.name ? `${server.name} at ` : ""}${formatAddress(server.host, server.port)}…`);
    const ac = new AbortController();
    this.#connecting = ac;
    let conn: ClientConnection;
    const attempt = connect({ server: { host: server.host, port: server.port }, signal: ac.signal });
    try {
      // Ctrl-C stops waiting at once; a connection that still completes later is closed.
      conn = await new Promise<ClientConnection>((resolveConn, reject) => {
        const onAbort = () => {
          void attempt.then((late) => late.abort("cancelled by the user"), () => {});
          reject(new SfxError("SFX_CANCELLED", "Cancelled"));
        };
        ac.signal.addEventListener("abort", onAbort, { once: true });
        attempt.then(resolveConn, reject).finally(() => ac.signal.removeEventListener("abort", onAbort));
      });
    } finally {
      this.#connecting = null;
    }
    if (ac.signal.aborted || this.#quitting) {
      await conn.abort("cancelled by the user");
      throw new SfxError("SFX_CANCELLED", "Cancelled");
    }
    return conn;
  }

  /** Makes `conn` the session's connection: the ID, the prompt, offers. */
  #adopt(conn: ClientConnection, server: Server): void {
    const where = formatAddress(server.host, server.port);
    this.#conn = conn;
    this.#lostWith = undefined;
    this.#shares = new ShareClient(connectionShareLink(conn));
    this.#connectedAt = Date.now();
    this.#server = { ...server, name: conn.welcome.server.name };
    const previous = this.#lastId;
    this.#lastId = conn.id;
    this.print(`Connected to ${conn.welcome.server.name} (sfx ${conn.welcome.server.version}) at ${where}.`);
    if (previous && previous !== conn.id) {
      this.print(`\n  Your new ID:  ${formatId(conn.id)}   (it was ${formatId(previous)}; give senders the new code)\n${codeLine(this.#code, conn.id, AGAIN)}\n`);
    } else {
      this.print(`\n  Your ID:  ${formatId(conn.id)}\n${codeLine(this.#code, conn.id, AGAIN)}\n`);
    }
    this.screen.setBasePrompt(this.#basePrompt());
    conn.onClose((err) => this.#lost(conn, err));
    void this.#receiveLoop(conn);
  }

  #lost(conn: ClientConnection, err: SfxError): void {
    if (this.#conn !== conn) return; // a disconnect or quit we asked for
    this.#conn = null;
    this.#lostWith = err;
    this.#shares?.dispose();
    this.#shares = null;
    this.screen.setBasePrompt(this.#basePrompt());
    this.print(`Connection lost: ${err.message}. Type 'connect' to reconnect (you will get a new ID).`);
    // Piped: what comes next was written for a connection that is gone.
    this.#noteFailure(err, "the connection was lost");
  }

  #need(): { conn: ClientConnection; shares: ShareClient } {
    if (!this.#conn || !this.#shares || this.#conn.closedWith) {
      const lost = this.#lostWith ?? this.#conn?.closedWith;
      if (lost) throw new SfxError("SFX_CONNECTION_LOST", `Not connected (the connection was lost: ${lost.message}): type 'connect' to reconnect`);
      throw new SfxError("SFX_USAGE", "Not connected: type 'connect' (or 'connect <host[:port]>') first");
    }
    return { conn: this.#conn, shares: this.#shares };
  }

  async #closeConnection(graceful: boolean): Promise<void> {
    const conn = this.#conn;
    if (!conn) return;
    this.#conn = null;
    this.#shares?.dispose();
    this.#shares = null;
    this.#incoming?.controller.abort();
    if (graceful) await conn.close(1000);
    else await conn.abort("the client left");
    this.screen.setBasePrompt(this.#basePrompt());
  }

  // ---- receiving --------------------------------------------------------

  async #receiveLoop(conn: ClientConnection): Promise<void> {
    let incoming!: Incoming;
    // One per connection: it holds an offer that comes between two exchanges.
    const receiver = new Receiver(conn, {
      dir: this.dir,
      overwrite: this.opts.overwrite,
      decide: (offer, withdrawn) => this.#decide(offer, withdrawn),
      code: this.#code,
      onEvent: (e) => this.#onIncomingEvent(incoming, e),
    });
    for (let n = 0; this.#conn === conn && !conn.closedWith && !this.#quitting; n++) {
      // A fetch by a sender's code takes the offers meanwhile (see receive()).
      if (this.#fetching) {
        await this.#fetching;
        continue;
      }
      let ended!: () => void;
      incoming = { conn, controller: new AbortController(), active: false, from: "", done: new Promise((r) => (ended = r)), kept: [] };
      this.#incoming = incoming;
      try {
        await receiver.receiveOne(incoming.controller.signal);
      } catch (err) {
        if (this.#conn !== conn || conn.closedWith || this.#quitting) break;
        // Failures and the sender's cancels were told by events; our own Ctrl-C is told here.
        if (incoming.active && incoming.controller.signal.aborted) this.print("Cancelled the incoming transfer; the sender was told.");
        else if (!incoming.active && !isSfxError(err)) this.#error("receive", err);
      } finally {
        this.screen.setStatus("recv", null, true);
        for (const line of incoming.kept.splice(0)) this.print(line);
        if (this.#incoming === incoming) this.#incoming = null;
        ended();
      }
    }
  }

  async #decide(offer: IncomingOffer, withdrawn: AbortSignal): Promise<boolean | string> {
    const who = formatId(offer.from);
    if (this.opts.yes) {
      this.print(`${who} is sending you ${describeFiles(offer)}; accepting (--yes).${offer.byCode === false ? ` ${ID_ONLY_NOTE}` : ""}`);
      return true;
    }
    if (!this.terminal) {
      this.print(`Rejected an offer from ${who}: no terminal to ask on (start 'sfx client' with --yes to accept offers).`);
      return "it has no terminal to ask on, and was not started with --yes";
    }
    const lines = [`\n${who} wants to send you ${describeFiles(offer)}:`];
    for (const f of offer.files.slice(0, 10)) lines.push(`  ${printable(f.path)}  ${f.size === null ? "(size unknown)" : formatBytes(f.size)}`);
    if (offer.files.length > 10) lines.push(`  … and ${offer.files.length - 10} more`);
    if (offer.kept > 0) lines.push(keptLine(offer.kept));
    if (offer.byCode === false) lines.push(ID_ONLY_NOTE);
    this.print(lines.join("\n"));
    const answer = await this.screen.ask(`Accept from ${who} into ${this.dir}? [y/N] `, withdrawn);
    if (answer === null) {
      if (withdrawn.aborted) this.print(`(the offer from ${who} was withdrawn)`);
      return false;
    }
    if (/^\s*y(es)?\s*$/i.test(answer)) return true;
    this.print(`Declined the offer from ${who}.`);
    return false;
  }

  /** `whose`: the code an exchange keyed with one used, this session's (an offer to it) or the sender's (a fetch). */
  #onIncomingEvent(incoming: Incoming, e: TransferEvent, whose: "yours" | "theirs" = "yours"): void {
    switch (e.event) {
      case "offer":
        incoming.from = e.from ?? "?";
        break;
      case "accepted":
        incoming.active = true;
        incoming.started = Date.now();
        this.print(`Receiving from ${formatId(incoming.from)} into ${this.dir}… (Ctrl-C cancels)`);
        break;
      case "rejected":
        if (refusedBySfx(e.reason)) this.print(`Rejected an offer from ${formatId(e.from ?? incoming.from)}: ${printable(e.reason)}`);
        break;
      case "start":
        incoming.resumed = e.resumed ?? 0;
        if (e.resumed) this.print(resumingHere(e.resumed));
        break;
      case "verify":
        this.print(verifyLine(e.code, "the sender", e.byCode, whose));
        break;
      case "codeMissed":
        this.print(missedCodeLine(e.misses, e.missesInAll));
        break;
      case "code":
        this.print(renewedCodeLine(e.code));
        break;
      case "codeClosed":
        this.print(CODES_CLOSED_LINE);
        break;
      case "progress":
        incoming.progress = progressText("recv", e.bytes, e.total, incoming.started ?? Date.now(), undefined, incoming.resumed);
        this.screen.setStatus("recv", incoming.progress);
        break;
      case "checking":
        incoming.progress = `recv ${checkingText(e)}`;
        this.screen.setStatus("recv", incoming.progress);
        break;
      case "file":
        if (e.unchanged) this.print(`  ${printable(e.savedAs ?? e.path)} was already here with the same bytes: kept as it was`);
        else this.print(`  received ${printable(e.savedAs ?? e.path)} (${takenNote(e)}${formatBytes(e.size)}, SHA-256 ${e.sha256.slice(0, 16)}…${e.resumedFrom ? `; resumed from ${formatBytes(e.resumedFrom)}` : ""})`);
        break;
      case "done":
        this.screen.setStatus("recv", null, true);
        this.print(`Received ${plural(e.files, "file")}, ${formatBytes(e.bytes)} in ${formatDuration(e.seconds)} (${formatDoneRate(e)}) from ${formatId(incoming.from)}; every hash verified.`);
        break;
      case "cancelled":
        this.screen.setStatus("recv", null, true);
        this.print(`Incoming transfer cancelled: ${e.reason}`);
        break;
      case "kept":
        // Said once the receive has ended, after what ended it (our own Ctrl-C is said then).
        incoming.kept.push(`  kept ${formatBytes(e.bytes)} of ${printable(e.path)}; the same file sent again resumes from there`);
        break;
      case "error":
        this.screen.setStatus("recv", null, true);
        this.print(`Incoming transfer failed: ${printable(e.message)}`);
        break;
    }
  }

  // ---- jobs -------------------------------------------------------------

  /** Runs `work` as a job: in the background on a terminal, to its end otherwise. */
  async #job(label: string, what: string, work: (signal: AbortSignal, status: (text: string | null) => void) => Promise<void>): Promise<void> {
    const n = ++this.#jobN;
    const key = `job${n}`;
    const controller = new AbortController();
    const job: Job = { n, label, what, controller, done: Promise.resolve() };
    const status = (text: string | null) => {
      job.progress = text ?? undefined;
      this.screen.setStatus(key, text);
    };
    const done = (async () => {
      try {
        await work(controller.signal, status);
      } catch (err) {
        if (controller.signal.aborted && isSfxError(err, "SFX_CANCELLED")) {
          this.print(`${label}: cancelled`);
          this.#noteFailure(err, `${label} was cancelled`);
        }
        else if (isSfxError(err, "SFX_CONNECTION_LOST") && !this.#conn) {
          this.print(`${label}: stopped, the connection was lost`);
          this.#noteFailure(err);
        }
        else this.#error(label, err);
      } finally {
        this.#jobs.delete(n);
        this.screen.setStatus(key, null, true);
      }
    })();
    job.done = done;
    this.#jobs.set(n, job);
    if (!this.terminal) await done;
  }

  // ---- commands ---------------------------------------------------------

  id(): void {
    if (!this.#conn) {
      this.print(`Not connected${this.#lastId ? ` (your last ID, ${formatId(this.#lastId)}, was released)` : ""}. Type 'connect'.`);
      return;
    }
    this.print(`\n  Your ID:  ${formatId(this.#conn.id)}\n${codeLine(this.#code, this.#conn.id, AGAIN)}\n`);
  }

  /** Refuses a second exchange (the server would): one is running, an incoming one, a send, or a fetch by code. */
  #oneExchangeAtATime(): void {
    const incoming = this.#incoming;
    if (incoming?.active) {
      throw new SfxError("SFX_USAGE", `You are receiving from ${formatId(incoming.from)}: one exchange at a time; wait for it to end, or Ctrl-C to cancel it`);
    }
    const running = [...this.#jobs.values()].find((j) => j.label === "send" || j.label === "receive");
    if (running) throw new SfxError("SFX_USAGE", `You are ${running.label === "send" ? "sending" : "receiving"} already (${running.what}): one exchange at a time; wait for it to end, or Ctrl-C to cancel it`);
  }

  async send(toText: string | undefined, paths: string[], flags: SessionSendFlags): Promise<void> {
    if (paths.includes("-")) throw new SfxError("SFX_USAGE", "Standard input carries this session's commands: give files or directories (or use 'sfx send -' outside the session)");
    // No receiver given: sent to whoever types the code this shows (`sfx receive <code>`, or `receive <code>` here).
    if (toText === undefined) return this.#sendByCode(paths, flags);
    const { id: to, secret } = parseReceiverTarget(toText);
    const { conn } = this.#need();
    if (to === conn.id) throw new SfxError("SFX_BAD_ARGUMENT", `${formatId(to)} is this client's own ID: give the receiver's`);
    // One exchange at a time (the server refuses a second): said here, before anything is offered.
    this.#oneExchangeAtATime();
    // Given the receiver's code, --verify asks nothing (the receiver proves the code), so it needs no terminal.
    if (flags.verify && secret === undefined && !this.terminal) throw new SfxError("SFX_USAGE", "--verify asks you to type the code the receiver shows: this session reads its commands from a pipe, not a terminal");
    const leftOut = this.#leftOut(flags.json);
    const files = await collectFiles(paths, { onSkip: leftOut.onSkip });
    if (files.length === 0) throw new SfxError("SFX_USAGE", "Nothing to send: the directories are empty");
    await this.#job("send", `send to ${formatId(to)}, ${filesSummary(files.length, offeredBytes(files))}`, async (signal, status) => {
      let started = Date.now();
      let resumed = 0;
      /** Whether the exchange is keyed with the receiver's code (then --verify asks nothing). */
      let byCode = false;
      await sendFiles(conn, {
        to: to + (secret ?? ""),
        files,
        signal,
        // --verify: asked on the prompt line, as an offer is; withdrawn if the exchange ends first.
        ...(flags.verify ? { confirmCode: (asked: AbortSignal) => this.#askCode(asked) } : {}),
        onEvent: (e) => {
          if (flags.json) {
            if (e.event !== "progress") this.print(JSON.stringify(e));
            return;
          }
          switch (e.event) {
            case "offer":
              this.print(`Offering ${filesSummary(files.length, e.bytes)} to ${formatId(to)}${secret === undefined ? "" : ", with its code"}; waiting for them to accept… (Ctrl-C cancels)`);
              break;
            case "accepted":
              started = Date.now();
              this.print(flags.verify ? `${formatId(to)} accepted.` : `${formatId(to)} accepted; sending.`);
              break;
            case "start":
              // The time spent comparing codes is not the transfer's.
              started = Date.now();
              if (flags.verify && !byCode) this.print(SAME_CODE_LINE);
              if (e.resumed) this.print(keptByReceiver(e.resumed));
              resumed = e.resumed ?? 0;
              break;
            case "verify":
              // With --verify this end's code is not shown: the user types the receiver's, not this one copied.
              // Keyed with the receiver's code, nothing was asked: said as without --verify.
              byCode = e.byCode === true;
              if (!flags.verify || byCode) this.print(verifyLine(e.code, "the receiver", e.byCode));
              break;
            case "progress":
              status(progressText("send", e.bytes, e.total, started, undefined, resumed));
              break;
            case "checking":
              status(`send ${checkingText(e)}`);
              break;
            case "done":
              this.print(`Sent ${plural(e.files, "file")}, ${formatBytes(e.bytes)} in ${formatDuration(e.seconds)} (${formatDoneRate(e)}) to ${formatId(to)}; the receiver verified every file.`);
              break;
          }
        },
      });
      this.#endLeftOut(leftOut, "everything else arrived and was verified");
    });
  }

  /** `send <path>…` without a receiver: shows a code of its own, and sends to the receiver that types it. */
  async #sendByCode(paths: string[], flags: SessionSendFlags): Promise<void> {
    const { conn } = this.#need();
    this.#oneExchangeAtATime();
    const leftOut = this.#leftOut(flags.json);
    const files = await collectFiles(paths, { onSkip: leftOut.onSkip });
    if (files.length === 0) throw new SfxError("SFX_USAGE", "Nothing to send: the directories are empty");
    const size = filesSummary(files.length, offeredBytes(files));
    // A code for this send alone: the session's own code is for receiving.
    const code = new ExchangeCode();
    await this.#job("send", `send by code, ${size}`, async (signal, status) => {
      let started = Date.now();
      let to = "";
      let shown = false;
      await sendByCode(conn, {
        code,
        files,
        signal,
        onEvent: (e) => {
          if (e.event === "pulled") to = e.from;
          if (flags.json) {
            if (e.event !== "progress") this.print(JSON.stringify(e));
            return;
          }
          const lines = sendByCodeLines(e, shown, to, "Still waiting for the code.");
          if (lines?.err !== undefined) this.print(lines.err);
          if (lines?.out !== undefined) this.print(lines.out);
          if (e.event === "code" && !shown) {
            shown = true;
            this.print(`${size}: waiting for the receiver to type the code ('receive <code>' in sfx client). Ctrl-C cancels.`);
          }
          switch (e.event) {
            case "offer":
              this.print(`Client ${formatId(to)} typed the code: offering ${size}; waiting for them to accept…`);
              break;
            case "accepted":
              started = Date.now();
              this.print(`Client ${formatId(to)} accepted; sending.`);
              break;
            case "verify":
              this.print(verifyLine(e.code, "the receiver", e.byCode, "yours"));
              break;
            case "progress":
              status(progressText("send", e.bytes, e.total, started));
              break;
            case "done":
              this.print(`Sent ${plural(e.files, "file")}, ${formatBytes(e.bytes)} in ${formatDuration(e.seconds)} (${formatDoneRate(e)}) to ${formatId(to)}; the receiver verified every file.`);
              break;
          }
        },
      });
      this.#endLeftOut(leftOut, "everything else arrived and was verified");
    });
  }

  /**
   * `receive <code>`: fetches the files of the sender that shows that code. The session's own
   * receiving pauses meanwhile: the fetch takes this connection's offers (only that sender's).
   */
  async receive(codeText: string): Promise<void> {
    const { id } = parseSenderCode(codeText);
    const { conn } = this.#need();
    this.#oneExchangeAtATime();
    // An offer being answered (asked, or accepted and not yet started) is an exchange too: not cut short.
    const answering = this.#incoming?.from;
    if (answering) throw new SfxError("SFX_USAGE", `An offer from ${formatId(answering)} is being answered: one exchange at a time; answer it first`);
    // Its offer could only be declined, which ends the sender's send: said before anything is asked.
    if (!this.opts.yes && !this.terminal) throw new SfxError("SFX_USAGE", "receive <code> asks before it takes the files, and this session has no terminal to ask on: start 'sfx client' with --yes");
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    this.#fetching = paused;
    // Not active (checked above): only waiting for an offer, which the fetch now waits for instead.
    this.#incoming?.controller.abort();
    const incoming: Incoming = { conn, controller: new AbortController(), active: false, from: id, done: paused, kept: [] };
    // A job catches what its work throws: the fetch's own `finally` gives the session its receiving back.
    await this.#job("receive", `receive from ${formatId(id)}`, async (signal) => {
      try {
        this.print(`Asking ${formatId(id)} for its files…`);
        let rejection = "declined";
        const got = await receiveByCode(conn, codeText, {
          dir: this.dir,
          overwrite: this.opts.overwrite,
          decide: (offer, withdrawn) => this.#decide(offer, withdrawn),
          onEvent: (e) => {
            if (e.event === "rejected") rejection = e.reason;
            this.#onIncomingEvent(incoming, e, "theirs");
          },
        }, signal);
        // Not taken (declined, or refused by sfx): the command failed, as 'sfx receive <code>' does.
        if (!got.accepted) throw new SfxError("SFX_REJECTED", rejection === "declined" ? "The offer was declined" : `The offer was rejected: ${printable(rejection)}`);
      } finally {
        this.screen.setStatus("recv", null, true);
        for (const line of incoming.kept.splice(0)) this.print(line);
        this.#fetching = null;
        resume();
      }
    });
  }

  /**
   * `send --verify`'s question, on the prompt line: the code typed, or undefined for none (Ctrl-C,
   * the input's end). A line without digits (an Enter) asks again, as the one-shot command does.
   */
  #askCode(asked: AbortSignal): Promise<string | undefined> {
    return typedCode(async () => {
      const typed = await this.screen.ask(ASK_CODE, asked);
      return typed === null || typed === INTERRUPTED ? undefined : typed;
    });
  }

  /** What a send or a share put leaves out, each said as it is found (with `json`, as a `leftOut` event). */
  #leftOut(json = false): LeftOut {
    return new LeftOut((e) => this.print(json ? JSON.stringify({ event: "leftOut", ...e }) : `left out ${leftOutName(e.path)}: ${e.reason}`));
  }

  /** Under the summary: how many were left out, or SFX_PARTIAL when some could not be sent. */
  #endLeftOut(leftOut: LeftOut, rest: string): void {
    const line = leftOut.end(rest);
    if (line) this.print(line);
  }

  async sharePut(paths: string[], flags: SessionPutFlags): Promise<void> {
    const expiry = flags.expires === undefined ? {} : parseExpires(flags.expires);
    const maxDownloads = flags.maxDownloads === undefined ? undefined : parsePositive(flags.maxDownloads, "--max-downloads");
    const { shares } = this.#need();
    const leftOut = this.#leftOut();
    const files = await collectShareFiles(paths, leftOut.onSkip);
    const putBytes = files.reduce((sum, f) => sum + f.size, 0);
    await this.#job("share put", `share put, ${plural(files.length, "file")} (${formatBytes(putBytes)})`, async (signal, status) => {
      const started = Date.now();
      // Said after the session's "cancelling…", which the Ctrl-C prints once it has aborted the job.
      const onTooLateToCancel = () => queueMicrotask(() => this.print("The server has every byte and is making the share: waiting for its code"));
      const created = await shares.put(files, { ...expiry, maxDownloads, signal, onTooLateToCancel, onProgress: (p) => status(shareProgress("up", p, started)) });
      if (created.warning) this.print(`warning: ${created.warning}`);
      if (flags.json) {
        this.print(JSON.stringify({
          code: created.code,
          expiresAt: new Date(created.expiresAt).toISOString(),
          createdAt: new Date(created.createdAt).toISOString(),
          maxDownloads: created.maxDownloads,
          enciphered: created.enciphered,
          files: created.files,
          ...(created.warning ? { warning: created.warning } : {}),
          ...(leftOut.entries.length > 0 ? { leftOut: leftOut.entries } : {}),
        }));
      } else {
        const bytes = created.files.reduce((n, f) => n + f.size, 0);
        const limit = created.maxDownloads === null ? "" : `, or after ${plural(created.maxDownloads, "download")}`;
        this.print(`Shared ${plural(created.files.length, "file")} (${formatBytes(bytes)}); expires ${expiryText(created.expiresAt)}${limit}.`);
        this.print("Enciphered end to end: the code is the key, and the server never saw it.");
        const server = this.#server ? formatAddress(this.#server.host, this.#server.port) : undefined;
        this.print(`\n  Share code:  ${created.code}\n\nAnyone with the code can 'share get ${created.code}' (or '${downloadCommand(created.code, server)}').`);
      }
      this.#endLeftOut(leftOut, "everything else is in the share");
    });
  }

  async shareLs(code: string, flags: { json?: boolean }): Promise<void> {
    parseCode(code);
    const { shares } = this.#need();
    await this.#job("share ls", `share ls ${code}`, async (signal) => {
      const listing = await shares.list(code, { signal });
      if (flags.json) {
        this.print(JSON.stringify({
          files: listing.files,
          createdAt: new Date(listing.createdAt).toISOString(),
          expiresAt: new Date(listing.expiresAt).toISOString(),
          maxDownloads: listing.maxDownloads,
          downloads: listing.downloads,
          enciphered: listing.enciphered,
        }));
        return;
      }
      const width = Math.max(...listing.files.map((f) => formatBytes(f.size).length));
      const lines = listing.files.map((f) => `  ${formatBytes(f.size).padStart(width)}  ${printable(f.path)}`);
      const total = listing.files.reduce((n, f) => n + f.size, 0);
      let tail = `${plural(listing.files.length, "file")}, ${formatBytes(total)}; expires ${expiryText(listing.expiresAt)}`;
      if (listing.maxDownloads !== null) tail += `; downloaded ${listing.downloads} of ${listing.maxDownloads} times`;
      this.print([...lines, tail, ...(listing.enciphered ? [] : [PLAIN_SHARE_NOTE])].join("\n"));
    });
  }

  async shareGet(code: string, names: string[], flags: SessionGetFlags): Promise<void> {
    parseCode(code);
    const { shares } = this.#need();
    const dir = resolve(flags.dir ?? this.dir);
    // The directory is made by the get, once it knows the files fit (a refused get leaves nothing).
    await this.#job("share get", `share get ${code} into ${dir}`, async (signal, status) => {
      const started = Date.now();
      /** What a failed get keeps to resume from. */
      const kept: { path: string; bytes: number; temporary: string }[] = [];
      try {
        const r = await shares.get(code, { dir, names, overwrite: flags.overwrite, signal, onProgress: (p) => status(shareProgress("down", p, started)), onKept: (k) => kept.push(k) });
        const seconds = (Date.now() - started) / 1000;
        for (const f of r.files) {
          if (flags.json) {
            this.print(JSON.stringify(gotFileEvent(f, dir)));
          } else {
            const note = f.alreadyThere ? " (already there)" : f.resumedFrom > 0 ? ` (resumed from ${formatBytes(f.resumedFrom)})` : "";
            this.print(`  got ${printable(f.path)}${note}`);
          }
        }
        if (flags.json) this.print(JSON.stringify(gotDoneEvent(r.files.length, r.bytes, seconds)));
        else this.print(`Got ${plural(r.files.length, "file")} (${formatBytes(r.bytes)} fetched in ${formatDuration(seconds)}) into ${dir}; every hash verified.${r.enciphered ? "" : `\n${PLAIN_SHARE_NOTE}`}`);
      } catch (err) {
        for (const k of kept) {
          if (flags.json) this.print(JSON.stringify({ event: "kept", ...k }));
          else this.print(`share get: kept ${formatBytes(k.bytes)} of ${printable(k.path)} (hidden: ${printable(basename(k.temporary))}); the same 'share get' again resumes from there`);
        }
        throw err;
      }
    });
  }

  async connect(target: string | undefined): Promise<void> {
    let server: Server;
    if (target === undefined) {
      if (this.#conn) {
        this.print(`Already connected to ${this.#server?.name ?? "the server"} as ${formatId(this.#conn.id)}. Type 'disconnect' first, or 'connect <host[:port]>' to switch.`);
        return;
      }
      if (!this.#server) {
        await this.#start(); // nothing known yet: discover again
        return;
      }
      server = this.#server;
    } else if (/^\d+$/.test(target)) {
      // A bare number is a server 'discover' listed (up to 256), never a host: "100" would be 0.0.0.100.
      const n = Number(target);
      if (this.#discovered.length === 0) throw new SfxError("SFX_BAD_ARGUMENT", `No server ${n}: 'discover' has listed none; give host[:port]`);
      if (n < 1 || n > this.#discovered.length) throw new SfxError("SFX_BAD_ARGUMENT", `No server ${n}: 'discover' listed ${this.#discovered.length}`);
      server = fromDiscovered(this.#discovered[n - 1]);
    } else {
      server = parseHostPort(target, DISCOVERY_PORT);
    }
    if (this.#conn) {
      if (this.#jobs.size > 0 || this.#incoming?.active) throw new SfxError("SFX_USAGE", "A transfer is running: wait for it, or Ctrl-C to cancel it, then connect");
      // The new server first: if it cannot be reached, the current connection stays as it is.
      let next: ClientConnection;
      try {
        next = await this.#open(server);
      } catch (err) {
        const current = this.#conn ? `${this.#server?.name ?? "the server"} as ${formatId(this.#conn.id)}` : null;
        // Ctrl-C: the switch is what was cancelled, not the connection the session has.
        if (isSfxError(err, "SFX_CANCELLED") && current) this.print(`Switch to ${formatAddress(server.host, server.port)} cancelled; still connected to ${current}.`);
        else {
          this.#connectFailed(err);
          if (current) this.print(`Still connected to ${current}.`);
        }
        return;
      }
      const old = this.#conn?.id;
      await this.#closeConnection(true);
      if (old) this.print(`Disconnected from the previous server (the ID ${formatId(old)} is released).`);
      this.#server = server;
      this.#adopt(next, server);
      return;
    }
    await this.#connectTo(server).catch((err) => this.#connectFailed(err));
  }

  async disconnect(): Promise<void> {
    if (!this.#conn) {
      this.print("Not connected.");
      return;
    }
    const id = this.#conn.id;
    for (const job of this.#jobs.values()) job.controller.abort();
    // The receive loop waits for offers: stopped now, not waited for (3 s) and then stopped.
    this.#incoming?.controller.abort();
    await this.#settleJobs();
    await this.#closeConnection(true);
    this.print(`Disconnected. The ID ${formatId(id)} is released; 'connect' gets a new one.`);
  }

  async discover(options: DiscoverOptions, flags: { json?: boolean }): Promise<void> {
    const servers = sortServers(await discoverServers(options));
    // As `sfx discover`: none is SFX_NO_SERVER (a failure that ends a piped session with 3).
    if (servers.length === 0) throw noServerError(options);
    this.#discovered = servers;
    if (flags.json) {
      this.print(servers.map((s) => JSON.stringify(s)).join("\n"));
      return;
    }
    this.print(`${numberedTable(servers)}Type 'connect <n>' to connect to one.`);
  }

  status(): void {
    const lines: string[] = [];
    if (this.#conn) {
      const s = this.#server!;
      const up = formatDuration((Date.now() - this.#connectedAt) / 1000);
      lines.push(`Connected to ${this.#conn.welcome.server.name} (sfx ${this.#conn.welcome.server.version}) at ${formatAddress(s.host, s.port)} for ${up}.`);
      lines.push(`Your ID: ${formatId(this.#conn.id)}`, `Your code: ${codeText(this.#code, this.#conn.id, AGAIN)}`);
    } else {
      lines.push(`Not connected${this.#server ? ` (last server ${this.#server.host}:${this.#server.port}; 'connect' reconnects)` : ""}.`);
    }
    lines.push(`Received files go to ${this.dir}${this.opts.yes ? " (offers accepted without asking)" : ""}.`);
    const running = [...this.#jobs.values()].map((j) => j.progress ? `${j.what} [${j.progress}]` : j.what);
    const incoming = this.#incoming;
    if (incoming?.active) running.push(`receiving from ${formatId(incoming.from)}${incoming.progress ? ` [${incoming.progress}]` : ""}`);
    lines.push(running.length ? `Running:\n${running.map((r) => `  ${r}`).join("\n")}` : "No transfer running.");
    this.print(lines.join("\n"));
  }

  help(text: string): void {
    this.print(text);
  }

  async quit(): Promise<void> {
    if (this.#quitting) return;
    this.#quitting = true;
    this.screen.close();
    const cancelling = this.#jobs.size > 0 || this.#incoming?.active;
    for (const job of this.#jobs.values()) job.controller.abort();
    this.#incoming?.controller.abort();
    this.#connecting?.abort();
    if (cancelling) this.print("Cancelling the running transfers…");
    await this.#settleJobs();
    await this.#closeConnection(true).catch(() => {});
    this.print("Bye.");
    this.rl.close();
    this.#finish(this.#batchStatus ?? 0);
  }

  /** Waits (at most 3 s, or `settleMs`) for the running jobs and the incoming transfer to end. */
  async #settleJobs(): Promise<void> {
    const all = Promise.allSettled([...[...this.#jobs.values()].map((j) => j.done), this.#incoming?.done]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, this.opts.settleMs ?? 3000)))]);
    clearTimeout(timer);
  }
}

// ---- formatting -----------------------------------------------------------

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function describeFiles(offer: IncomingOffer): string {
  return filesSummary(offer.files.length, offer.bytes);
}

/**
 * `send 45% 3.1 MiB/12 MiB 21.0 MB/s`: short enough to sit in the prompt. The rate counts what
 * moved since `started`, not the `kept` bytes a resumed transfer began with.
 */
export function progressText(label: string, bytes: number, total: number | null, started: number, now = Date.now(), kept = 0): string {
  const seconds = Math.max(0.001, (now - started) / 1000);
  const rate = formatRate(Math.max(0, bytes - kept) / seconds / 1e6);
  if (total === null || total <= 0) return `${label} ${formatBytes(bytes)} ${rate}`;
  const pct = Math.min(100, Math.floor((bytes / total) * 100));
  return `${label} ${pct}% ${formatBytes(bytes)}/${formatBytes(total)} ${rate}`;
}

function shareProgress(label: string, p: ShareProgress, started: number): string {
  return progressText(label, p.bytes, p.total, started);
}

function parsePositive(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid ${what} '${text}': use a whole number of at least 1`);
  }
  return Number(text);
}

function fromDiscovered(s: DiscoveredServer): Server {
  return { host: s.host, port: s.port, name: s.name };
}

/** The discover table with a number before each server (`connect <n>`). */
function numberedTable(servers: readonly DiscoveredServer[]): string {
  const rows = formatTable(servers).split("\n");
  return rows.map((r, i) => (r ? `${i === 0 ? "  " : String(i).padStart(2)}  ${r}` : r)).join("\n");
}

/** What Ctrl-C answers a question on the prompt line: no answer typed (not an empty line, which `send --verify` asks again after). */
const INTERRUPTED = "\u0003";
