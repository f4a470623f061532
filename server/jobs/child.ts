/**
 * A job's work in a child process (JobControl.child): server/jobs/child-main.ts run on the job's
 * spec (./spec.ts). A child, not a worker: training and search use every core and worker threads
 * of their own, and a kill must end all of it at once. The child reports its log lines and its
 * progress as messages over the IPC channel; its own stdout and stderr are cut into lines too (a
 * segment ended by a lone `\r` is a progress line, as a redrawn progress bar).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { moduleCommandLine } from "../../runtime/node-entry.js";
import { progressData, type ProgressData } from "./progress.js";
import { RESULT_FILE, SPEC_FILE, type ChildMessage, type JobSpec, type MeasureRequest, type ParentMessage } from "./spec.js";

/** How long a child has after SIGTERM before SIGKILL. */
export const KILL_GRACE_MS = 5000;
/** stderr lines kept for the failure message. */
const TAIL_LINES = 12;
/** A line longer than this is cut (a runaway line must not fill the events table). */
const MAX_LINE = 4000;

/** The running child's pid, in the job's directory. */
const PIDFILE = "child.pid";

/**
 * A failure to write the job's directory (read-only, full, gone, a broken disk) as the job's
 * error: what failed and why, never a bare errno — and never thrown where nothing catches it.
 */
export class JobDirError extends Error {
  constructor(cwd: string, what: string, e: unknown) {
    const code = (e as NodeJS.ErrnoException)?.code;
    super(`cannot ${what} in the job directory ${cwd} (${code ? `${code}: ` : ""}${(e as Error)?.message ?? String(e)}): ` +
      `check that the server's data directory is writable and has free space`);
    this.name = "JobDirError";
  }
}

/** Runs a file operation of the job's directory; a JobDirError saying `what` when it fails. */
function inDir<T>(cwd: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new JobDirError(cwd, what, e);
  }
}

/**
 * A server killed with SIGKILL leaves its job's child running (a child busy in a long synchronous
 * stretch never sees its IPC channel close). Before a job's child is started again, the one a
 * previous process left in that directory is killed — only after /proc confirms that the pid is
 * still a process working in that directory, so a reused pid is never hit.
 */
function killLeftover(cwd: string): void {
  const file = join(cwd, PIDFILE);
  if (!existsSync(file)) return;
  const pid = inDir(cwd, `read ${PIDFILE}`, () => Number(readFileSync(file, "utf8")));
  inDir(cwd, `remove ${PIDFILE}`, () => rmSync(file, { force: true }));
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

export interface ChildOptions {
  cwd: string;
  signal: AbortSignal;
  /** A line of the child's stdout or stderr, or (stream "log") one it sent as a message. */
  onLine(stream: "stdout" | "stderr" | "log", line: string, progress: boolean): void;
  /** Progress the child sent as a message, with its numbers (./progress.ts) when it sent them. */
  onProgress?(fraction: number | undefined, message: string | undefined, data?: ProgressData): void;
  /** Answers the child's `measure` requests (absent: each is answered with an error). */
  onMeasure?(m: MeasureRequest): Promise<Omit<ParentMessage, "type" | "id">>;
}

export interface ChildExit {
  code: number;
  /** The last lines of its stderr and of its log messages: the reason of a failure. */
  stderrTail: string;
}

/** Runs the command line `[command, ...args]` in `o.cwd`; resolves when it has exited (also after an abort killed it). */
export function runChild(commandLine: readonly string[], o: ChildOptions): Promise<ChildExit> {
  if (o.signal.aborted) return Promise.reject(new Error("aborted before the child started"));
  try {
    killLeftover(o.cwd);
  } catch (e) {
    return Promise.reject(e);
  }
  const [command, ...args] = commandLine;
  // the IPC channel is how the child learns that the server died (it exits on 'disconnect')
  const child = spawn(command, args, { cwd: o.cwd, stdio: ["ignore", "pipe", "pipe", "ipc"], env: { ...process.env, NO_COLOR: "1" } });
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  const out = lineSplitter((line, progress) => o.onLine("stdout", line, progress));
  const err = lineSplitter((line, progress) => {
    if (!progress) keep(line);
    o.onLine("stderr", line, progress);
  });
  child.stdout!.on("data", (b: Buffer) => out.write(b));
  child.stderr!.on("data", (b: Buffer) => err.write(b));
  child.on("message", (m: ChildMessage) => {
    if (m?.type === "log" && typeof m.line === "string") {
      const line = m.line.length > MAX_LINE ? m.line.slice(0, MAX_LINE) + " [cut]" : m.line;
      keep(line);
      o.onLine("log", line, false);
    } else if (m?.type === "progress") {
      const message = typeof m.message === "string" ? (m.message.length > MAX_LINE ? m.message.slice(0, MAX_LINE) + " [cut]" : m.message) : undefined;
      o.onProgress?.(typeof m.fraction === "number" ? m.fraction : undefined, message, progressData(m.data));
    } else if (m?.type === "measure" && Number.isInteger(m.id) && Array.isArray(m.archs)) {
      const answer = (r: Omit<ParentMessage, "type" | "id">) => {
        if (child.connected) child.send({ type: "measured", id: m.id, ...r } satisfies ParentMessage, (e: Error | null) => { if (e) o.onLine("stderr", `measure reply not sent: ${e.message}`, false); });
      };
      (o.onMeasure ? o.onMeasure(m) : Promise.resolve({ error: "this job cannot measure on the fleet" }))
        .then(answer, (e: unknown) => answer({ error: (e as Error)?.message ?? String(e) }));
    }
  });
  if (child.pid !== undefined) {
    try {
      writeFileSync(join(o.cwd, PIDFILE), String(child.pid));
    } catch (e) {
      // without its pid file a child left by a killed server could not be found again: do not run it
      child.kill("SIGKILL");
      return Promise.reject(new JobDirError(o.cwd, `write ${PIDFILE}`, e));
    }
  }

  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    child.kill("SIGTERM");
    killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
  };
  o.signal.addEventListener("abort", onAbort, { once: true });

  return new Promise<ChildExit>((resolve, reject) => {
    let done = false;
    const finish = () => {
      o.signal.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
    };
    child.on("error", (e) => {
      if (done) return;
      done = true;
      finish();
      reject(new Error(`could not start the child process (${command}): ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (done) return;
      done = true;
      finish();
      try {
        rmSync(join(o.cwd, PIDFILE), { force: true });
      } catch (e) {
        // in an event handler a throw would end the server: the child has exited, a stale pid file is harmless (killLeftover checks /proc)
        o.onLine("stderr", new JobDirError(o.cwd, `remove ${PIDFILE}`, e).message, false);
      }
      out.end();
      err.end();
      resolve({ code: code ?? (signal ? 128 + signalNumber(signal) : 1), stderrTail: tail.join("\n") });
    });
  });
}

export interface SpecRun {
  code: number;
  /** What the pipeline returned (result.json), when the child ended well. */
  result: Record<string, unknown> | null;
  stderrTail: string;
}

/** The command line of the job child (server/jobs/child-main.ts), from the sources or compiled. */
export function jobChildCommandLine(): string[] {
  return moduleCommandLine(import.meta.url, "./child-main");
}

/**
 * Runs the job child on `spec`: written to the job's directory as spec.json; the child writes
 * result.json there (atomically) before it exits with code 0.
 */
export async function runSpec(spec: JobSpec, o: ChildOptions): Promise<SpecRun> {
  const specFile = join(o.cwd, SPEC_FILE), resultFile = join(o.cwd, RESULT_FILE);
  inDir(o.cwd, `write ${SPEC_FILE}`, () => writeFileSync(specFile, JSON.stringify(spec, null, 2) + "\n"));
  inDir(o.cwd, `remove the last ${RESULT_FILE}`, () => rmSync(resultFile, { force: true }));
  const r = await runChild([...jobChildCommandLine(), specFile], o);
  let result: Record<string, unknown> | null = null;
  if (r.code === 0 && existsSync(resultFile)) result = inDir(o.cwd, `read ${RESULT_FILE}`, () => JSON.parse(readFileSync(resultFile, "utf8")) as Record<string, unknown>);
  return { code: r.code, result, stderrTail: r.stderrTail };
}

function signalNumber(s: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 } as Record<string, number>)[s] ?? 0;
}
