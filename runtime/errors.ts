/**
 * The one base class of errors that are the user's fault: bad usage, a malformed or lying input
 * file, an architecture outside its space, an infeasible constraint. Whoever reports an error goes
 * by it alone: the CLI exits with code 2 for an InputError (1 for anything else), the agent's
 * command too. Each subclass keeps its own `name` ("ArchError", "ModelFormatError", ...) for
 * messages and tests.
 */
export class InputError extends Error {
  override name = "InputError";
}

/** True for an InputError and for the errors of node's own input checks (a flag parseArgs refused, a missing file). */
export function isInputError(e: unknown): boolean {
  if (e instanceof InputError || e instanceof RangeError) return true;
  const code = String((e as { code?: unknown } | null)?.code ?? "");
  return ["ENOENT", "EISDIR", "EACCES"].includes(code) || code.startsWith("ERR_PARSE_ARGS");
}
