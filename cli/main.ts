/**
 * The `hat` command line: a thin shell that parses flags, calls runtime/ and prints.
 * Every subcommand lives in its own file under cli/; errors become one line on stderr and
 * exit code 2 (bad usage or input) or 1 (runtime failure).
 */
import { agentCommand } from "../agent/command.js";
import { demoCommand } from "./demo.js";
import { exportCommand, infoCommand, initCommand } from "./model.js";
import { campaignCommand } from "./campaign.js";
import { predictorCommand } from "./predictor.js";
import { profileCommand } from "./profile.js";
import { quantizeCommand } from "./quantize.js";
import { reportCommand, searchCommand } from "./search.js";
import { studyCommand } from "./study.js";
import { serveCommand } from "./serve.js";
import { trainCommand } from "./train.js";
import { workerCommand } from "./worker.js";
import { bleuCommand, translateCommand } from "./translate.js";
import { webCommand } from "./web.js";
import { isInputError } from "../runtime/errors.js";
import type { Io } from "./io.js";
import { packageVersion } from "./version.js";

const COMMANDS: Record<string, { run: (argv: string[], io: Io) => Promise<void>; help: string }> = {
  profile: { run: profileCommand, help: "measure an architecture's latency in the wasm runtime (HAT's protocol)" },
  "profile-campaign": { run: campaignCommand, help: "measure N architectures of a space here into a latency dataset (resumable)" },
  predictor: { run: predictorCommand, help: "fit, evaluate, apply or verify a latency predictor (predictor fit|eval|predict|verify)" },
  init: { run: initCommand, help: "create a SuperTransformer model file with random weights" },
  export: { run: exportCommand, help: "cut a compact SubTransformer model out of a SuperTransformer" },
  quantize: { run: quantizeCommand, help: "quantize a model's weight matrices: K-means (HAT's) or linear, 4 or 8 bits" },
  info: { run: infoCommand, help: "check and describe a model file" },
  train: { run: trainCommand, help: "train a SuperTransformer, or one SubTransformer, on a corpus or the demo task" },
  translate: { run: translateCommand, help: "translate text (a line a sentence) with a model file" },
  web: { run: webCommand, help: "write a static page that translates in the browser as you type, with its latency (--serve PORT serves it)" },
  bleu: { run: bleuCommand, help: "corpus BLEU, compatible with sacreBLEU's default" },
  search: { run: searchCommand, help: "hardware-aware evolutionary search for a SubTransformer under a latency constraint" },
  report: { run: reportCommand, help: "the HTML report of a search, from its record (hat search --record)" },
  study: { run: studyCommand, help: "HAT's evidence on your corpus: proxy, latency (vs scaled baselines), evolution (vs random), all" },
  serve: { run: serveCommand, help: "the search server: jobs, datasets, campaigns on agents, predictors, searches, deployments (HTTP)" },
  worker: { run: workerCommand, help: "runs the jobs a `hat serve --queue` server put on its BullMQ queue (Redis), on this machine" },
  agent: { run: agentCommand, help: "the edge agent: enrols with a server, profiles architectures, serves deployed models" },
  demo: { run: demoCommand, help: "the main job on the built-in demo space (see docs/STATUS.md)" },
};

function usage(): string {
  const lines = [`hat-edge ${packageVersion()}`, "", "usage: hat <command> [options]   (hat --version: the version)", "", "commands:"];
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
  if (cmd === "--version" || cmd === "-v" || cmd === "version") {
    io.out(packageVersion());
    return 0;
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
    io.err(`hat ${cmd}: ${(e as Error).message}`);
    return isInputError(e) ? 2 : 1; // bad usage or input, else a failure of the program
  }
}
