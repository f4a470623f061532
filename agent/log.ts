/** The agent's log: one line per event on stderr, each with an ISO timestamp (or a JSON object with --json). */

export type Log = (line: string) => void;

/** Timestamped lines to `write`: `2026-01-01T00:00:00.000Z message`, or `{"t": ..., "msg": ...}` when `json`. */
export function timestampedLog(write: (line: string) => void, json = false): Log {
  return (line) => {
    const t = new Date().toISOString();
    write(json ? JSON.stringify({ t, msg: line }) : `${t} ${line}`);
  };
}

/** An error's message, for a log line. */
export function errText(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const c = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : undefined;
    return c && !e.message.includes(c) ? `${e.message} (${c})` : e.message;
  }
  return String(e);
}
