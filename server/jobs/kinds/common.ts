/**
 * What the job kinds that run a pipeline in the job child share: running a spec, resolving a
 * space param, checking referenced jobs.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { decodeModel } from "../../../runtime/format.js";
import { readProtocol, type Protocol } from "../../../runtime/protocol.js";
import { parseSpaceText } from "../../../runtime/arch-text.js";
import { BUILTIN_SPACES } from "../../../runtime/spaces.js";
import { validateArch } from "../../../runtime/arch.js";
import type { Space, ValidArch } from "../../../runtime/types.js";
import type { ServerContext } from "../../context.js";
import { badRequest } from "../../http.js";
import { SPEC_COMMAND, type JobSpec, type TextFiles } from "../spec.js";
import type { JobControl, JobRecord } from "../types.js";

/**
 * Runs `spec` in the job child: what its pipeline returned, or an Error with the exit code and the
 * last lines of its log (the job's failure reason). Failures name the `hat` command that does the same.
 */
export async function runJob(ctl: JobControl, spec: JobSpec, o?: Parameters<JobControl["child"]>[1]): Promise<Record<string, unknown>> {
  const r = await ctl.child(spec, o);
  const what = SPEC_COMMAND[spec.kind];
  if (ctl.signal.aborted) throw new Error(`${what} was stopped`);
  if (r.code !== 0) throw new Error(`${what} exited with code ${r.code}${r.stderrTail ? `:\n${r.stderrTail}` : ""}`);
  if (!r.result || typeof r.result !== "object" || Array.isArray(r.result)) throw new Error(`${what} finished but wrote no result`);
  return r.result;
}

/** A space param (a built-in name, or an object in the project's JSON or HAT's form, checked at POST) as a Space. */
export function spaceOf(space: string | object): Space {
  return typeof space === "string" ? BUILTIN_SPACES[space as keyof typeof BUILTIN_SPACES] : parseSpaceText(JSON.stringify(space));
}

/**
 * The job `id` names as `field`: it must exist, be of `kind`, be done and hold the artifact
 * `role` (still in the store); else a 400 naming the field.
 */
export function doneJob(ctx: ServerContext, id: string, field: string, kind: string, role: string): { job: JobRecord; file: string; sha256: string } {
  const job = ctx.jobs.get(id);
  if (!job) throw badRequest(`${field}: no job ${JSON.stringify(id)}`, "unknown_job");
  if (job.kind !== kind) throw badRequest(`${field}: job ${id} is a ${job.kind} job, not a ${kind} job`, "wrong_job_kind");
  if (job.state !== "done") throw badRequest(`${field}: job ${id} is ${job.state}, not done`, "job_not_done");
  const sha256 = job.artifacts[role];
  if (!sha256 || !ctx.artifacts.has(sha256)) throw badRequest(`${field}: job ${id} has no ${role} artifact`, "missing_artifact");
  return { job, file: resolve(ctx.artifacts.path(sha256)), sha256 };
}

/**
 * The vocabulary of a done train job's SuperTransformer: its result says it (a job from before
 * results named it: the model file's header). What its latencies must be measured at.
 */
export function supernetVocab(supernet: { job: JobRecord; file: string }): number {
  const v = (supernet.job.result as { vocab?: unknown } | null)?.vocab;
  return typeof v === "number" ? v : decodeModel(readFileSync(supernet.file)).header.vocab.size;
}

/**
 * How a predictor file's latencies were measured, when it says (a fit writes its rows' protocol;
 * older files' shapes are read as runtime/protocol.ts readProtocol reads them); undefined when it
 * does not, or says nothing usable.
 */
export function predictorProtocol(file: string): Protocol | undefined {
  try {
    const stored = (JSON.parse(readFileSync(file, "utf8")) as { protocol?: unknown }).protocol;
    return stored === undefined ? undefined : readProtocol(stored);
  } catch {
    return undefined;
  }
}

/**
 * The predictor learnt latencies at the supernet's vocabulary (docs/method.md §4; the output
 * projection is part of every decoder step), else it predicts another model: a 400
 * protocol_mismatch naming both jobs and both vocabularies. `learnt` is predictorProtocol's.
 */
export function checkPredictorVocab(learnt: Protocol | undefined, predictorJob: string, supernet: { job: JobRecord; file: string }, supernetJob: string): void {
  const vocab = supernetVocab(supernet);
  if (learnt !== undefined && learnt.vocab !== vocab) {
    throw badRequest(`predictor: job ${predictorJob} learnt latencies measured at vocabulary ${learnt.vocab}, but the supernet ${supernetJob} has vocabulary ${vocab}: run a campaign with "supernet": "${supernetJob}" and fit on it`, "protocol_mismatch");
  }
}

/** A split's two files, as a spec names them. */
export function textFiles(s: TextFiles): TextFiles {
  return { src: s.src, tgt: s.tgt };
}

/** The two splits a training job reads. */
export function trainData(d: { train: TextFiles; valid: TextFiles }): { train: TextFiles; valid: TextFiles } {
  return { train: textFiles(d.train), valid: textFiles(d.valid) };
}

/** The datasets a done predictor job was fitted on, and the device class of its campaign (none when it was fitted on stored files). */
export function predictorData(ctx: ServerContext, job: JobRecord): { files: string[]; deviceClass?: string } {
  const p = job.params as { campaign?: string; data?: string[] };
  if (p.campaign !== undefined) {
    const c = ctx.jobs.get(p.campaign);
    const sha = c?.artifacts.dataset;
    if (!c || !sha || !ctx.artifacts.has(sha)) return { files: [] };
    return { files: [resolve(ctx.artifacts.path(sha))], deviceClass: (c.params as { device_class?: string }).device_class };
  }
  return { files: (p.data ?? []).filter((sha) => ctx.artifacts.has(sha)).map((sha) => resolve(ctx.artifacts.path(sha))) };
}

/**
 * The arch param checked against the space of the supernet's train job (`inSpace`), or alone: the
 * valid arch, or a 400 naming the field.
 */
export function checkArch(arch: unknown, supernet: { job: { params: unknown } }, inSpace: boolean): Record<string, unknown> {
  try {
    const space = inSpace ? spaceOf((supernet.job.params as { space: string | object }).space) : undefined;
    return validateArch(arch, space) as unknown as Record<string, unknown>;
  } catch (e) {
    throw badRequest(`arch: ${(e as Error).message}`, "invalid_body");
  }
}

/** An arch param as prepare() left it: validateArch's ValidArch (stored as JSON, so its brand is the type's alone). */
export const checked = (arch: Record<string, unknown>): ValidArch => arch as unknown as ValidArch;
