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
