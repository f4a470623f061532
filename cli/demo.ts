/**
 * `hat demo`: the main job, end to end, the way a user runs it — over the server's HTTP API.
 * It starts a server (in this process) and a local agent (a child process), then:
 *   1. uploads the built-in demo task as a dataset (or the user's parallel files: then the
 *      defaults are sized for a real corpus: the multi30k space, a vocabulary sized to the corpus,
 *      a training recipe sized to the time budget),
 *   2. trains the SuperTransformer of the space (a job on the server),
 *   3. profiles a latency campaign on the agent (its device class),
 *   4. fits the latency predictor on that campaign,
 *   5. searches under a latency constraint (evolution against random search), fine-tunes the
 *      winner and scores its BLEU on the demo test set,
 *   6. deploys the winner to the agent, which measures its real latency,
 *   7. translates a few sentences through the agent's POST /translate,
 *   8. writes the HTML report (with the agent's measured latency).
 * With --server/--admin-token it drives an existing server and its fleet instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { demoTask } from "../data/demo-task.js";
import { Predictor } from "../latency/predictor.js";
import { largestArch, smallestArch } from "../runtime/arch-sample.js";
import { BUILTIN_SPACES } from "../runtime/spaces.js";
import { readTexts } from "../data/texts.js";
import { vocabSizeFor } from "../train/defaults.js";
import type { Protocol } from "../runtime/protocol.js";
import type { Arch } from "../runtime/types.js";
import { hashToken, newToken } from "../server/auth.js";
import { listen } from "../server/app.js";
import { HatClient, type SseEvent } from "../server/client.js";
import type { JobRecord } from "../server/jobs/types.js";
import { renderReport, type SearchRecord } from "../search/report.js";
import { intFlag, numFlag, optIntFlag, spaceArg } from "./args.js";
import { UsageError, type Io } from "./io.js";
import { hatCommandLine } from "./self.js";

const HELP = `usage: hat demo [--out DIR (hat-demo)] [--json]
                [--src F --tgt F --valid-src F --valid-tgt F [--test-src F --test-tgt F]]
                [--space NAME|FILE] [--vocab-size N]
                [--minutes 3.5] [--samples 120] [--runs 30] [--rounds 3] [--latency-ms X]
                [--generations 20] [--valid-max 100] [--finetune-minutes 1] [--seed 1] [--verbose]
                [--server URL --admin-token T --device-class C [--translate-url URL [--translate-token T]]] [--dataset ID]

The whole pipeline on the built-in demo task, through the server's HTTP API: server + local agent,
SuperTransformer training, a latency campaign on the agent, the predictor, the search (evolution
and random search at equal budget), fine-tuning, deployment to the agent, translation through it,
and the HTML report. About 9 minutes on 2 cores.
  --samples/--runs/--rounds   the campaign: architectures, timed runs, keep the fastest of rounds
  --valid-max       validation pairs of the search's inherited loss
  --latency-ms      the constraint (default: halfway between the predicted latencies of the
                    smallest and the largest SubTransformer)
  --server ...      use a running server and its agents of --device-class (nothing is started);
                    --translate-url an agent's /translate, --translate-token its token (an agent
                    listening beyond loopback keeps it in STATE/translate-token)
  --dataset ID      a dataset already on the server instead of the built-in demo task
  --src ...         your parallel corpus (a sentence a line; test: BLEU, translations) instead of
                    the demo task; the defaults change for a real corpus: --space multi30k,
                    --vocab-size from the corpus (~4 pairs a token, 2,000-8,000), --minutes 20
                    with the recipe sized to the budget, --finetune-minutes 5, dropout 0.1
                    (with --dataset too)
With --json the last line is one object: constraint_ms, winner_arch, predicted_ms, measured_ms,
evolution_best_loss, random_best_loss, bleu, report, and more.`;

const OPTIONS = {
  out: { type: "string" }, json: { type: "boolean" }, minutes: { type: "string" }, samples: { type: "string" }, runs: { type: "string" },
  "latency-ms": { type: "string" }, generations: { type: "string" }, rounds: { type: "string" }, "valid-max": { type: "string" }, "finetune-minutes": { type: "string" }, seed: { type: "string" },
  verbose: { type: "boolean" }, server: { type: "string" }, "admin-token": { type: "string" }, "device-class": { type: "string" },
  "translate-url": { type: "string" }, "translate-token": { type: "string" }, dataset: { type: "string" }, help: { type: "boolean", short: "h" },
  src: { type: "string" }, tgt: { type: "string" }, "valid-src": { type: "string" }, "valid-tgt": { type: "string" }, "test-src": { type: "string" }, "test-tgt": { type: "string" },
  space: { type: "string" }, "vocab-size": { type: "string" },
} as const;

type FilePair = { src: string; tgt: string };
type CorpusFiles = { train: FilePair; valid: FilePair; test?: FilePair };

/** The user's corpus files (absolute paths), or undefined for the demo task; half a pair is an error. */
function corpusFiles(values: Record<string, unknown>): CorpusFiles | undefined {
  const pair = (s: string, t: string, need: boolean): FilePair | undefined => {
    const a = values[s] as string | undefined, b = values[t] as string | undefined;
    if (a === undefined && b === undefined && !need) return undefined;
    if (a === undefined || b === undefined) throw new UsageError(`give both --${s} and --${t}`);
    return { src: resolve(a), tgt: resolve(b) };
  };
  const given = ["src", "tgt", "valid-src", "valid-tgt", "test-src", "test-tgt"].some((k) => values[k] !== undefined);
  if (!given) return undefined;
  if (values.dataset !== undefined) throw new UsageError("give either --dataset or corpus files (--src ...), not both");
  const test = pair("test-src", "test-tgt", false);
  return { train: pair("src", "tgt", true)!, valid: pair("valid-src", "valid-tgt", true)!, ...(test ? { test } : {}) };
}

/** The texts of the files, for a server that cannot read them from its disk (an upload). */
function readSplits(f: CorpusFiles): Record<string, { src: string; tgt: string }> {
  const read = (p: FilePair) => ({ src: readFileSync(p.src, "utf8"), tgt: readFileSync(p.tgt, "utf8") });
  return { train: read(f.train), valid: read(f.valid), ...(f.test ? { test: read(f.test) } : {}) };
}

interface AgentProcess {
  child: ChildProcess;
  info: { agent_id: string; device_class: string; translate_url: string };
}

/** Start `hat agent` as a child process; resolves with its first stdout line (its identity). */
async function startAgent(server: string, token: string, deviceClass: string, stateDir: string, logFile: string): Promise<AgentProcess> {
  const [cmd, ...args] = hatCommandLine();
  const child = spawn(cmd, [...args, "agent", "--server", server, "--token", token, "--class", deviceClass, "--name", `${hostname()}-demo`,
    "--state", stateDir, "--port", "0", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => appendFileSync(logFile, d));
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<AgentProcess["info"]>((resolve, reject) => {
    const fail = (message: string) => { child.kill("SIGKILL"); reject(new Error(message)); }; // never leave it behind
    const timer = setTimeout(() => fail(`the agent did not enrol within 60 s (its log: ${logFile})`), 60_000);
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`the agent exited with code ${code} before enrolling (its log: ${logFile})`)); });
    lines.once("line", (line) => {
      clearTimeout(timer);
      try { resolve(JSON.parse(line)); } catch { fail(`the agent printed '${line}' instead of its identity`); }
    });
  });
  lines.on("line", (l) => appendFileSync(logFile, l + "\n"));
  return { child, info };
}

export async function demoCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) { io.out(HELP); return; }
  const out = resolve(values.out ?? "hat-demo");
  // a real corpus (files or a dataset on the server) gets defaults sized for it, the demo task its own
  const files = corpusFiles(values);
  const corpus = files !== undefined || values.dataset !== undefined;
  const spaceName = values.space ?? (corpus ? "multi30k" : "demo");
  const space = spaceArg(spaceName);
  const spaceParam = Object.hasOwn(BUILTIN_SPACES, spaceName) ? spaceName : space; // a file's space travels as JSON
  const givenVocab = optIntFlag(values, "vocab-size", 300); // else sized to the dataset's training pairs once it is known
  const minutes = numFlag(values, "minutes", corpus ? 20 : 3.5, 0.05), samples = intFlag(values, "samples", 120, 20), runs = intFlag(values, "runs", 30), rounds = intFlag(values, "rounds", 3);
  const generations = intFlag(values, "generations", 20), validMax = intFlag(values, "valid-max", 100), finetuneMinutes = numFlag(values, "finetune-minutes", corpus ? 5 : 1, 0), seed = intFlag(values, "seed", 1, 0);
  const external = values.server !== undefined;
  if (external && (!values["admin-token"] || !values["device-class"])) throw new UsageError("--server needs --admin-token and --device-class (the agents to use)");
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
  const say = (s: string) => (values.json ? io.err : io.out)(`[${elapsed()}] ${s}`);
  mkdirSync(out, { recursive: true });

  // ---- the server and a local agent (or a running fleet)
  let url: string, adminToken: string, deviceClass: string, translateUrl: string | undefined = values["translate-url"];
  let closeServer = async () => {};
  let agent: AgentProcess | undefined;
  if (external) {
    url = values.server!.replace(/\/$/, "");
    adminToken = values["admin-token"]!;
    deviceClass = values["device-class"]!;
  } else {
    // a fresh server and agent each run: a previous run's jobs would resume and queue before ours
    rmSync(join(out, "server"), { recursive: true, force: true });
    rmSync(join(out, "agent"), { recursive: true, force: true });
    adminToken = newToken("admin");
    const serverLog = join(out, "server.log");
    // the corpus files are read by the server from their directories (a files dataset)
    const corpusRoots = files ? [...new Set(Object.values(files).flatMap((f) => [dirname(f.src), dirname(f.tgt)]))] : [];
    const server = await listen({ dataDir: join(out, "server"), adminTokenHash: hashToken(adminToken), port: 0, leaseSeconds: 60, corpusRoots, log: (l) => appendFileSync(serverLog, `${new Date().toISOString()} ${l}\n`) });
    url = server.url;
    closeServer = () => server.close();
    writeFileSync(join(out, "admin-token"), adminToken + "\n", { mode: 0o600 });
    say(`server on ${url} (data ${join(out, "server")}, log ${serverLog}, admin token in ${join(out, "admin-token")})`);
    deviceClass = `local-${process.arch}`;
  }
  const api = new HatClient(url, adminToken);
  const follow = async (job: JobRecord, what: string): Promise<JobRecord> => {
    say(`${what}: job ${job.id}`);
    let lastPrint = 0, lastMessage = "";
    const done = await api.follow(job.id, (e: SseEvent) => {
      const d = e.data as { message?: string; line?: string; state?: string } | string;
      const text = typeof d === "string" ? d : d.message ?? d.line ?? (d.state ? `state ${d.state}` : "");
      if (values.verbose && text) { say(`  ${text}`); return; }
      if (e.event === "progress" && text && text !== lastMessage && performance.now() - lastPrint > 10_000) {
        say(`  ${text}`);
        lastPrint = performance.now();
        lastMessage = text;
      }
    });
    if (done.state !== "done") throw new Error(`${what} ${done.state}: ${done.error ?? "no reason given"}`);
    return done;
  };

  try {
    if (!external) {
      const enrol = await api.post<{ token: string }>("/v1/enrolment-tokens", { device_class: deviceClass });
      agent = await startAgent(url, enrol.token, deviceClass, join(out, "agent"), join(out, "agent.log"));
      translateUrl = agent.info.translate_url;
      say(`agent ${agent.info.agent_id} enrolled as device class '${deviceClass}', serving ${translateUrl}/translate (log ${join(out, "agent.log")})`);
    }

    // ---- 1. data
    type Dataset = { id: string; name: string; splits: { train: { lines: number }; test?: { lines: number } } };
    const dataset = values.dataset
      ? await api.get<Dataset>(`/v1/datasets/${values.dataset}`)
      : files
        ? await api.post<Dataset>("/v1/datasets", external ? { name: basename(files.train.src), splits: readSplits(files) } : { name: basename(files.train.src), files })
        : await api.post<Dataset>("/v1/datasets", { name: "demo task", builtin: "demo", seed });
    const hasTest = dataset.splits.test !== undefined;
    say(`[1/8] dataset ${dataset.id} (${dataset.name}, ${dataset.splits.train.lines} training pairs${hasTest ? `, ${dataset.splits.test!.lines} test` : ", no test split: no BLEU"})`);

    // ---- 2. the SuperTransformer: the demo task's recipe (small batches, a high rate, no
    // dropout), or for a real corpus the recipe the trainer sizes to the budget
    const recipe = corpus ? {} : { max_tokens: 1024, lr: 0.005, warmup: 100, dropout: 0 };
    const vocabSize = givenVocab ?? (corpus ? vocabSizeFor(dataset.splits.train.lines) : 1000);
    const train = await follow(await api.job("train", { dataset: dataset.id, space: spaceParam, minutes, vocab_size: vocabSize, ...recipe, seed }),
      `[2/8] training the SuperTransformer of the ${typeof spaceParam === "string" ? spaceParam : "given"} space for ${minutes} min (vocabulary ${vocabSize})`);
    const tr = train.result as { steps?: number; valid_loss?: number; tokens_per_sec?: number; recipe?: { max_tokens: number; warmup: number; lr: number } };
    say(`      ${tr.steps} updates, validation loss ${tr.valid_loss?.toFixed(3)}, ${Math.round(tr.tokens_per_sec ?? 0)} tokens/s${tr.recipe ? ` (recipe: batches of ${tr.recipe.max_tokens} tokens, ${tr.recipe.warmup} warm-up updates, peak lr ${tr.recipe.lr.toExponential(1)})` : ""}`);

    // ---- 3. latency campaign on the agents of the class, at the SuperTransformer's vocabulary
    const protocol = { runs, warmup: 5, src_len: 30, tgt_len: 30, beam: 5 };
    const campaign = await follow(await api.job("campaign", { device_class: deviceClass, supernet: train.id, space: spaceParam, samples, protocol, rounds, seed }),
      `[3/8] latency campaign: ${samples} architectures on '${deviceClass}' agents (the fastest of ${rounds} x ${runs} runs each)`);
    say(`      ${(campaign.result as { rows?: number }).rows} rows`);

    // ---- 4. predictor
    const fit = await follow(await api.job("predictor", { campaign: campaign.id, seed }), "[4/8] fitting the latency predictor");
    const fr = fit.result as { test_rmse_ms?: number; test_mape?: number; test_kendall_tau?: number; linear_rmse_ms?: number };
    say(`      held-out RMSE ${fr.test_rmse_ms?.toFixed(3)} ms, MAPE ${(fr.test_mape ?? 0).toFixed(1)} %, Kendall tau ${fr.test_kendall_tau?.toFixed(2)} (linear ${fr.linear_rmse_ms?.toFixed(3)} ms)`);
    const predictor = Predictor.fromJSON(JSON.parse(Buffer.from(await api.download(fit.artifacts.predictor)).toString("utf8")));
    const [lo, hi] = predictor.predict([smallestArch(space), largestArch(space)]);
    const constraint = values["latency-ms"] !== undefined ? numFlag(values, "latency-ms", 1, 0) : Math.round((lo + (hi - lo) / 2) * 100) / 100;
    say(`      predicted: smallest SubTransformer ${lo.toFixed(2)} ms, largest ${hi.toFixed(2)} ms; constraint ${constraint} ms`);

    // ---- 5. search + fine-tune + BLEU
    const search = await follow(await api.job("search", {
      supernet: train.id, predictor: fit.id, latency_ms: constraint, dataset: dataset.id, generations, valid_max: validMax, seed, random_baseline: true,
      ...(finetuneMinutes > 0 ? { finetune_minutes: finetuneMinutes, ...(corpus ? {} : { lr: 0.0005, max_tokens: 1024, dropout: 0 }) } : {}), bleu: hasTest,
    }), `[5/8] evolutionary search under ${constraint} ms (${generations} generations; random search at the same budget)`);
    type Candidate = { round: number; valid_loss: number; predicted_ms: number; measured_ms: number | null; meets: boolean | null; speed: number | null; winner: boolean };
    const sr = search.result as {
      arch: Arch; predicted_ms: number; valid_loss: number; evaluations: number; random?: { valid_loss: number }; bleu?: number; params?: number; finetuned?: { valid_loss: number };
      verdict?: "meets" | "none_met" | "unverified"; measured_ms?: number; candidates?: Candidate[];
    };
    for (const c of sr.candidates ?? []) {
      say(`      round ${c.round} candidate: loss ${c.valid_loss.toFixed(4)}, predicted ${c.predicted_ms.toFixed(2)} ms, measured ${c.measured_ms === null ? "(failed)" : `${c.measured_ms.toFixed(2)} ms`} on the agent${c.speed !== null ? ` (machine speed ${c.speed.toFixed(2)})` : ""}${c.meets === false ? " (over)" : ""}${c.winner ? "  <- winner" : ""}`);
    }
    if (sr.verdict === "none_met") say(`      NO CANDIDATE MET THE CONSTRAINT of ${constraint} ms when measured on the agent: the fastest measured is deployed`);
    else if (sr.verdict === "unverified") say("      the candidates could not be measured on the agent: the winner is unverified");
    say(`      winner: loss ${sr.valid_loss.toFixed(4)} (random search ${sr.random?.valid_loss.toFixed(4)}) at ${sr.predicted_ms.toFixed(2)} ms predicted${sr.measured_ms !== undefined ? `, ${sr.measured_ms.toFixed(2)} ms measured` : ""}, ${sr.params ?? "?"} parameters${sr.finetuned ? `; fine-tuned validation loss ${sr.finetuned.valid_loss.toFixed(3)}` : ""}; BLEU ${sr.bleu?.toFixed(2)}`);

    // ---- 6. deploy to the class; each agent measures it
    const dep = await api.post<{ id: string; protocol: Protocol }>("/v1/deployments", { device_class: deviceClass, model: { job: search.id }, protocol: { ...protocol, runs: Math.max(runs, 100) } });
    say(`[6/8] deployment ${dep.id} of the winner to '${deviceClass}'`);
    type DepAgent = { agent_id: string; state: string; measured_ms: number | null; encoder_ms: number | null; decoder_ms: number | null; protocol: Protocol | null; speed?: number | null; usual_ms?: number | null; error: string | null };
    let agents: DepAgent[] = [];
    let meets: boolean | null = null; // the server's verdict: every agent's measurement against the search's constraint
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      const view = await api.get<{ agents: DepAgent[]; meets_constraint: boolean | null }>(`/v1/deployments/${dep.id}`);
      agents = view.agents;
      meets = view.meets_constraint;
      if (agent) agents = agents.filter((a) => a.agent_id === agent!.info.agent_id); // ours; a fleet's: all of the class
      if (agents.length > 0 && agents.every((a) => a.state !== "pending")) break;
    }
    for (const a of agents) say(`      agent ${a.agent_id}: ${a.state}${typeof a.measured_ms === "number" ? `, measured ${a.measured_ms.toFixed(2)} ms` : ""}${typeof a.speed === "number" ? ` (machine speed ${a.speed.toFixed(2)})` : ""}${a.error ? ` (${a.error})` : ""}`);
    // judged at each agent's usual speed (measured / its speed factor: a slow minute is not the model's latency), as the server judges it
    const usualOf = (a: DepAgent) => a.usual_ms ?? a.measured_ms!;
    const active = agents.filter((a) => a.state === "active" && typeof a.measured_ms === "number").sort((a, b) => usualOf(a) - usualOf(b));
    if (active.length === 0) throw new Error(`the deployment reached no agent (states: ${agents.map((a) => a.state).join(", ") || "none"})`);
    const median = active[Math.floor(active.length / 2)], measured = median.measured_ms!, usual = usualOf(median);

    // ---- 7. translate through the agent
    let translations: { src: string; hyp: string; ref: string }[] = [];
    // sentences of the corpus's test split (its validation split without one), or of the demo task
    const sample = files ? readTexts((files.test ?? files.valid).src, (files.test ?? files.valid).tgt, () => {}) : corpus ? undefined : demoTask({ seed }).test;
    if (translateUrl && sample) {
      const src = sample.src.slice(0, 5), ref = sample.tgt.slice(0, 5);
      // an agent listening beyond loopback wants its translate token (STATE/translate-token)
      const auth: Record<string, string> = values["translate-token"] ? { authorization: `Bearer ${values["translate-token"]}` } : {};
      const res = await fetch(`${translateUrl}/translate`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ lines: src }), signal: AbortSignal.timeout(60_000) });
      if (res.status === 401) throw new Error(`the agent's /translate answered 401: give its token with --translate-token (the agent keeps it in its state directory, translate-token)`);
      const body = await res.json() as { translations?: string[]; ms?: number; error?: { message: string } };
      if (!res.ok || !body.translations) throw new Error(`the agent's /translate answered HTTP ${res.status}: ${body.error?.message ?? JSON.stringify(body)}`);
      translations = src.map((s, i) => ({ src: s, hyp: body.translations![i], ref: ref[i] }));
      say(`[7/8] translated through ${translateUrl}/translate in ${body.ms?.toFixed(0)} ms:`);
      for (const t of translations) say(`      ${t.src}\n${" ".repeat(14)}=> ${t.hyp}\n${" ".repeat(14)}   (reference: ${t.ref})`);
    } else {
      say(`[7/8] ${!translateUrl ? "no agent translate URL given (--translate-url)" : "the dataset's sentences are on the server, not here"}: skipped`);
    }

    // ---- 8. the report, with the agent's measurement
    const record = JSON.parse(Buffer.from(await api.download(search.artifacts.record)).toString("utf8")) as SearchRecord;
    if (record.winner) {
      record.winner.measured = {
        // the predictor's device name, so the report plots the measurement beside the prediction
        device: record.devices[0]?.name ?? deviceClass, totalMs: measured, encoderMs: median.encoder_ms ?? NaN, decoderMs: median.decoder_ms ?? NaN,
        protocol: median.protocol ?? dep.protocol, measuredOn: `the '${deviceClass}' agent${active.length > 1 ? `s (median of ${active.length})` : ` ${median.agent_id}`}`, overConstraint: usual > constraint,
      };
    }
    // paths inside the server's job directories mean nothing here: name the jobs and this copy
    record.supernet = `train job ${train.id} (artifact ${train.artifacts.model})`;
    const winnerFile = join(out, "winner.hatm");
    if (record.winner?.finetuned) record.winner.finetuned.path = winnerFile;
    else if (record.winner?.exported) record.winner.exported.path = winnerFile;
    if (record.winner?.finetuned && record.winner.exported) record.winner.exported.path = `search job ${search.id} (before fine-tuning)`;
    const report = join(out, "report.html");
    writeFileSync(report, renderReport(record));
    writeFileSync(join(out, "search.json"), JSON.stringify(record, null, 2) + "\n");
    writeFileSync(winnerFile, await api.download(search.artifacts.model));
    say(`[8/8] report ${report}; the winner model ${winnerFile}`);
    say(`done in ${elapsed().trim()}: predicted ${sr.predicted_ms.toFixed(2)} ms, measured ${measured.toFixed(2)} ms on the agent${usual !== measured ? ` (${usual.toFixed(2)} ms at its usual speed)` : ""} (constraint ${constraint} ms${usual > constraint ? ": OVER" : ""})${sr.verdict === "none_met" ? "; no candidate met the constraint" : ""}, BLEU ${sr.bleu?.toFixed(2)}`);
    if (values.json) {
      io.out(JSON.stringify({
        constraint_ms: constraint, winner_arch: sr.arch, predicted_ms: sr.predicted_ms, measured_ms: measured, usual_ms: usual, over_constraint: usual > constraint,
        verdict: usual <= constraint ? "meets" : "misses", within_10_percent: usual <= constraint * 1.1, raw_within_10_percent: measured <= constraint * 1.1, deployment_meets_constraint: meets, deployment_speed: median.speed ?? null,
        search_verdict: sr.verdict ?? null, search_measured_ms: sr.measured_ms ?? null, candidates: sr.candidates?.map(({ round, valid_loss, predicted_ms, measured_ms, meets: m, speed, winner }) => ({ round, valid_loss, predicted_ms, measured_ms, meets: m, speed, winner })) ?? [],
        evolution_best_loss: sr.valid_loss, random_best_loss: sr.random?.valid_loss ?? null, bleu: sr.bleu ?? null, report,
        params: sr.params ?? null, evaluations: sr.evaluations, train_updates: tr.steps, train_valid_loss: tr.valid_loss,
        campaign_rows: (campaign.result as { rows?: number }).rows, predictor_test_rmse_ms: fr.test_rmse_ms, device_class: deviceClass,
        translations, seconds: Math.round((performance.now() - t0) / 1000), server: url,
      }));
    }
  } finally {
    if (agent) {
      agent.child.kill("SIGTERM");
      await new Promise((r) => { agent!.child.once("exit", r); setTimeout(r, 5000); });
    }
    await closeServer();
  }
}
