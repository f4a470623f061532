/**
 * Running the `hat` CLI as a child process for a job (JobControl.hat). A child, not a worker: the
 * CLI's training and search use every core and worker threads of their own, and a kill must end
 * all of it at once. The child's output is cut into lines; a segment ended by a lone `\r` is a
 * progress line (the CLI redraws its progress bar that way).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { hatCommandLine } from "../../cli/self.js";

/** How long a child has after SIGTERM before SIGKILL. */
export const KILL_GRACE_MS = 5000;
/** stderr lines kept for the failure message. */
const TAIL_LINES = 12;
/** A line longer than this is cut (a runaway line must not fill the events table). */
const MAX_LINE = 4000;

/** The running child's pid, in the job's directory. */
const PIDFILE = "child.pid";

/**
 * A server killed with SIGKILL leaves its job's child running (a child busy in a long synchronous
 * stretch never sees its IPC channel close). Before a job's child is started again, the one a
 * previous process left in that directory is killed — only after /proc confirms that the pid is
 * still a process working in that directory, so a reused pid is never hit.
 */
function killLeftover(cwd: string): void {
  const file = join(cwd, PIDFILE);
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, "utf8"));
  rmSync(file, { force: true });
  if (!Number.isInteger(pid) || pid <= 1) return;
  let sameDir = false;
  try {
    sameDir = resolve(readlinkSync(`/proc/${pid}/cwd`)) === resolve(cwd);
  } catch {
    return; // gone (or no /proc to confirm it is ours: leave it)
  }
  if (!sameDir) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  for (const until = Date.now() + 5000; Date.now() < until;) {
    try {
      process.kill(pid, 0);
    } catch {
      return; // it is gone
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Cuts a byte stream into lines; `progress` is true for a segment ended by a lone `\r`. */
export function lineSplitter(emit: (line: string, progress: boolean) => void): { write(chunk: Buffer): void; end(): void } {
  const dec = new StringDecoder("utf8");
  let buf = "";
  const out = (s: string, progress: boolean) => {
    const line = s.replace(ANSI, "").trimEnd();
    if (line.trim() !== "") emit(line.length > MAX_LINE ? line.slice(0, MAX_LINE) + " [cut]" : line, progress);
  };
  const drain = (final: boolean) => {
    const re = /\r\n|\n|\r/g;
    let start = 0;
    for (let m = re.exec(buf); m; m = re.exec(buf)) {
      if (m[0] === "\r" && m.index === buf.length - 1 && !final) break; // maybe the first half of \r\n
      out(buf.slice(start, m.index), m[0] === "\r");
      start = re.lastIndex;
    }
    buf = buf.slice(start);
    if (final || buf.length > 64 * 1024) {
      out(buf, false);
      buf = "";
    }
  };
  return {
    write(chunk) { buf += dec.write(chunk); drain(false); },
    end() { buf += dec.end(); drain(true); },
  };
}

export interface HatRunOptions {
  cwd: string;
  signal: AbortSignal;
  onLine(stream: "stdout" | "stderr", line: string, progress: boolean): void;
}

export interface HatRun {
  code: number;
  json: unknown;
  stderrTail: string;
}

/** Runs `hat <argv>`; resolves when the child has exited (also after an abort killed it). */
export function runHat(argv: readonly string[], o: HatRunOptions): Promise<HatRun> {
  if (o.signal.aborted) return Promise.reject(new Error("aborted before the child started"));
  killLeftover(o.cwd);
  const [command, ...args] = hatCommandLine();
  // the IPC channel is how the child learns that the server died (cli/entry.ts exits on 'disconnect')
  const child = spawn(command, [...args, ...argv], { cwd: o.cwd, stdio: ["ignore", "pipe", "pipe", "ipc"], env: { ...process.env, NO_COLOR: "1" } });
  let lastOut = "";
  const tail: string[] = [];
  const out = lineSplitter((line, progress) => {
    if (!progress) lastOut = line;
    o.onLine("stdout", line, progress);
  });
  const err = lineSplitter((line, progress) => {
    if (!progress) {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    }
    o.onLine("stderr", line, progress);
  });
  child.stdout!.on("data", (b: Buffer) => out.write(b));
  child.stderr!.on("data", (b: Buffer) => err.write(b));
  if (child.pid !== undefined) writeFileSync(join(o.cwd, PIDFILE), String(child.pid));

  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    child.kill("SIGTERM");
    killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
  };
  o.signal.addEventListener("abort", onAbort, { once: true });

  return new Promise<HatRun>((resolve, reject) => {
    let done = false;
    const finish = () => {
      o.signal.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
    };
    child.on("error", (e) => {
      if (done) return;
      done = true;
      finish();
      reject(new Error(`could not start the hat CLI (${command}): ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (done) return;
      done = true;
      finish();
      rmSync(join(o.cwd, PIDFILE), { force: true });
      out.end();
      err.end();
      let json: unknown = null;
      try {
        json = lastOut ? JSON.parse(lastOut) : null;
      } catch {
        json = null; // not a --json run, or it died before printing its summary
      }
      resolve({ code: code ?? (signal ? 128 + signalNumber(signal) : 1), json, stderrTail: tail.join("\n") });
    });
  });
}

function signalNumber(s: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 } as Record<string, number>)[s] ?? 0;
}
