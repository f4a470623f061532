/**
 * The `hat` command line: a thin shell that parses flags, calls runtime/ and prints.
 * Every subcommand lives in its own file under cli/; errors become one line on stderr and
 * exit code 2 (bad usage or input) or 1 (runtime failure).
 */
import { demoCommand } from "./demo.js";
import { exportCommand, infoCommand, initCommand } from "./model.js";
import { profileCommand } from "./profile.js";

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const COMMANDS: Record<string, { run: (argv: string[], io: Io) => Promise<void>; help: string }> = {
  profile: { run: profileCommand, help: "measure an architecture's latency in the wasm runtime (HAT's protocol)" },
  init: { run: initCommand, help: "create a SuperTransformer model file with random weights" },
  export: { run: exportCommand, help: "cut a compact SubTransformer model out of a SuperTransformer" },
  info: { run: infoCommand, help: "check and describe a model file" },
  demo: { run: demoCommand, help: "the main job on the built-in demo space (see docs/STATUS.md)" },
};

function usage(): string {
  const lines = ["usage: hat <command> [options]", "", "commands:"];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.help}`);
  lines.push("", "`hat <command> --help` shows a command's options.");
  return lines.join("\n");
}

/** Run the CLI; returns the process exit code. */
export async function main(argv: string[], io: Io = { out: (s) => process.stdout.write(s + "\n"), err: (s) => process.stderr.write(s + "\n") }): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    io.out(usage());
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    io.err(`hat: unknown command '${cmd}'\n${usage()}`);
    return 2;
  }
  try {
    await c.run(rest, io);
    return 0;
  } catch (e) {
    const err = e as Error;
    const usageLike = err instanceof UsageError || err.name === "ArchError" || err.name === "ModelFormatError" || err instanceof RangeError || (err as NodeJS.ErrnoException).code === "ENOENT" || (err as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || (err as { code?: string }).code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE";
    io.err(`hat ${cmd}: ${err.message}`);
    return usageLike ? 2 : 1;
  }
}
