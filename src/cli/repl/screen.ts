/**
 * The session's terminal: one node:readline prompt that other output never
 * garbles. A message is printed *above* the prompt (clear the prompt's
 * rows, write, redraw the prompt with what the user had typed, cursor
 * where it was); transfer progress lives in the prompt itself
 * (`[recv 45% 3.3 MB/s] 482 913> `), redrawn a few times a second; a
 * question (an incoming offer's y/N) takes the prompt over for one line,
 * keeping the half-typed command to give back afterwards.
 *
 * Without a terminal (input piped) it degrades to plain lines.
 *
 * @module
 */
import { clearScreenDown, cursorTo, type Interface, moveCursor } from "node:readline";

/** What the screen needs of an output stream. */
export interface ScreenOutput {
  write(text: string): boolean;
  columns?: number;
}

interface Question {
  resolve(answer: string | null): void;
  saved: string;
}

/** Output and questions around one readline interface. */
export class Screen {
  readonly rl: Interface;
  readonly out: ScreenOutput;
  readonly terminal: boolean;
  #base = "sfx> ";
  #status = new Map<string, string>();
  #question: Question | null = null;
  #lastDraw = 0;
  #drawTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #questionText = "";
  /** Nothing is drawn until the first prompt (or question): before, prints are plain lines. */
  #shown = false;

  constructor(rl: Interface, out: ScreenOutput, terminal: boolean) {
    this.rl = rl;
    this.out = out;
    this.terminal = terminal;
    // Input ended (Ctrl-D, end of a pipe): readline refuses prompts from now on.
    rl.once("close", () => {
      // Ctrl-D at a prompt or question leaves the cursor after it: what is printed next starts a line of its own.
      if (this.terminal && this.#shown && !this.#closed) this.out.write("\n");
      this.#inputClosed = true;
      this.#question?.resolve(null);
    });
    // Enter: the line and its prompt stay above, the cursor on a new row with no prompt drawn.
    rl.on("line", () => (this.#drawn = false));
  }

  /** The prompt (and what is typed) is on screen around the cursor: true from a draw to the next Enter. */
  #drawn = false;

  #inputClosed = false;

  /** True while a question waits for its answer. */
  get asking(): boolean {
    return this.#question !== null;
  }

  /** The prompt without progress, e.g. `482 913> `. */
  setBasePrompt(text: string): void {
    this.#base = text;
    this.#applyPrompt();
  }

  /** Prints lines above the prompt. */
  print(text: string): void {
    if (this.#closed || this.#inputClosed) {
      this.out.write(text.endsWith("\n") ? text : `${text}\n`);
      return;
    }
    const body = text.endsWith("\n") ? text : `${text}\n`;
    if (!this.terminal || !this.#shown) {
      this.out.write(body);
      return;
    }
    this.#clearPrompt();
    this.out.write(body);
    this.#redraw();
  }

  /**
   * Shows `text` for `key` in the prompt (progress of one transfer); null
   * removes it. Redrawn at most 5 times a second; `now` forces a redraw.
   */
  setStatus(key: string, text: string | null, now = false): void {
    if (text === null) this.#status.delete(key);
    else this.#status.set(key, text);
    if (!this.terminal || this.#closed) return;
    const wait = 200 - (Date.now() - this.#lastDraw);
    if (now || wait <= 0) {
      clearTimeout(this.#drawTimer);
      this.#drawTimer = undefined;
      this.#applyPrompt();
    } else if (!this.#drawTimer) {
      this.#drawTimer = setTimeout(() => {
        this.#drawTimer = undefined;
        this.#applyPrompt();
      }, wait);
    }
  }

  /**
   * Asks a question on the prompt line: the next line typed answers it.
   * Resolves null when `signal` aborts first (the question is withdrawn).
   */
  ask(question: string, signal?: AbortSignal): Promise<string | null> {
    if (this.#question) this.#question.resolve(null);
    this.#questionText = question;
    return new Promise((resolve) => {
      let saved = "";
      if (this.#drawing) {
        saved = this.rl.line;
        this.#emptyLine(); // the line the user was typing, given back after the answer
      }
      const q: Question = {
        saved,
        resolve: (answer) => {
          if (this.#question !== q) return;
          this.#question = null;
          signal?.removeEventListener("abort", onAbort);
          // Withdrawn (or Ctrl-C) while an answer was half typed: that text is no command.
          if (this.#drawing) this.#emptyLine();
          this.#applyPrompt();
          // Typed back: the cursor ends after it, where the user left it.
          if (q.saved && this.#drawing) this.rl.write(q.saved);
          resolve(answer);
        },
      };
      const onAbort = () => q.resolve(null);
      this.#question = q;
      this.#shown = true;
      signal?.addEventListener("abort", onAbort, { once: true });
      if (this.#closed || this.#inputClosed) return q.resolve(null);
      this.#applyPrompt();
      if (!this.terminal) this.out.write(question);
      if (signal?.aborted) onAbort();
    });
  }

  /**
   * Gives a typed line to the question waiting for it; false when none
   * waits (the line is a command).
   */
  answer(line: string): boolean {
    if (!this.#question) return false;
    this.#question.resolve(line);
    return true;
  }

  /**
   * Shows the prompt (after a command finished, or at the start). What was
   * typed meanwhile stays, the cursor where typing left it: typing on continues it.
   */
  prompt(): void {
    if (this.#closed) return;
    this.#shown = true;
    this.#applyPrompt();
  }

  /** Stops drawing: every later print is a plain line. Withdraws a pending question. */
  close(): void {
    clearTimeout(this.#drawTimer);
    this.#question?.resolve(null);
    if (this.terminal && !this.#closed && !this.#inputClosed && this.#shown) {
      this.#clearPrompt();
    }
    this.#closed = true;
  }

  /** The prompt text now: a question, or progress + base prompt. */
  promptText(): string {
    if (this.#question) return this.#questionText;
    const parts = [...this.#status.values()];
    return parts.length ? `[${parts.join(" | ")}] ${this.#base}` : this.#base;
  }

  /** Sets the prompt and draws it with the line as typed, the cursor where it is (never moved to column 0). */
  #applyPrompt(): void {
    if (this.#closed || this.#inputClosed) return;
    // Before the first prompt, or piped input (no prompts in the output): only the text is set.
    if (!this.#shown || !this.terminal) {
      this.rl.setPrompt(this.promptText());
      return;
    }
    // Erased by the rows it has now, before its text (and length) changes.
    this.#clearPrompt();
    this.#redraw();
  }

  /** Whether the prompt is on a terminal that is still being drawn on. */
  get #drawing(): boolean {
    return this.terminal && !this.#closed && !this.#inputClosed;
  }

  /** Ctrl-E then Ctrl-U: empties the typed line, as the user would. */
  #emptyLine(): void {
    if (!this.rl.line) return;
    this.rl.write(null, { ctrl: true, name: "e" });
    this.rl.write(null, { ctrl: true, name: "u" });
  }

  /** Moves to the prompt's first row and erases it and everything below. */
  #clearPrompt(): void {
    // Counted from the prompt and the line: readline's count (prevRows) is of its last full
    // redraw, stale once typed text wraps onto a new row without one (as a paste does).
    const rows = this.#drawn ? this.rl.getCursorPos().rows : (this.rl as unknown as { prevRows?: number }).prevRows ?? 0;
    if (rows > 0) moveCursor(this.out as NodeJS.WritableStream, 0, -rows);
    cursorTo(this.out as NodeJS.WritableStream, 0);
    clearScreenDown(this.out as NodeJS.WritableStream);
    // readline remembers how many rows it drew last; we just erased them.
    (this.rl as unknown as { prevRows?: number }).prevRows = 0;
  }

  #redraw(): void {
    this.#lastDraw = Date.now();
    this.rl.setPrompt(this.promptText());
    this.#drawn = true;
    this.rl.prompt(true);
  }
}
