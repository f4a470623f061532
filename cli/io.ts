/** What every `hat` subcommand gets from cli/main.ts: where its output goes, and its usage error. */
import { InputError } from "../runtime/errors.js";

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Bad usage of a command: a missing or malformed flag (exit code 2). */
export class UsageError extends InputError {
  override name = "UsageError";
}

/**
 * Output whose reader went away (`hat info ... | head -1`) ends the process quietly (exit 0)
 * instead of an EPIPE stack trace. Installed once by each process entry (bin/hat.js,
 * cli/entry.ts, cli/dev.ts), not by main() (tests call it in-process).
 */
export function exitQuietlyOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/** Where progress goes: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): unknown;
}

/**
 * A progress line: on a terminal rewritten in place (`\r` ... `\x1b[K`); anywhere else (a log
 * file, a pipe) plain lines, at most one per `plainEveryMs` (and every `final` one), never a control character.
 */
export class Progress {
  private last = -Infinity;
  private open = false;
  constructor(private readonly stream: ProgressStream = process.stderr, private readonly plainEveryMs = 10_000) {}

  get tty(): boolean {
    return !!this.stream.isTTY;
  }

  /** Show `line`; `keep` ends it with a newline on a terminal too (a line worth keeping, e.g. a validation). */
  update(line: string, keep = false): void {
    if (this.tty) {
      this.stream.write(`\r${line}\x1b[K${keep ? "\n" : ""}`);
      this.open = !keep;
      return;
    }
    const now = performance.now();
    if (!keep && now - this.last < this.plainEveryMs) return;
    this.last = now;
    this.stream.write(`${line}\n`);
  }

  /** Ends an open terminal line. */
  done(): void {
    if (this.open) this.stream.write("\n");
    this.open = false;
  }
}
