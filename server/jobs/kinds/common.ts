/** What the job kinds that wrap a `hat` command share: running it, and checking referenced jobs. */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ServerContext } from "../../context.js";
import { badRequest } from "../../http.js";
import type { JobControl, JobRecord } from "../types.js";

/**
 * `hat <argv> --json`: its JSON summary, or an Error with the exit code and the last stderr
 * lines (the job's failure reason).
 */
export async function hatJson(ctl: JobControl, argv: string[]): Promise<Record<string, unknown>> {
  const r = await ctl.hat([...argv, "--json"]);
  const what = `hat ${argv[0]}${argv[0] === "predictor" ? ` ${argv[1]}` : ""}`;
  if (ctl.signal.aborted) throw new Error(`${what} was stopped`);
  if (r.code !== 0) throw new Error(`${what} exited with code ${r.code}${r.stderrTail ? `:\n${r.stderrTail}` : ""}`);
  if (!r.json || typeof r.json !== "object" || Array.isArray(r.json)) throw new Error(`${what} finished but printed no JSON summary`);
  return r.json as Record<string, unknown>;
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

/** `--flag value` pairs for the options that are set (numbers as the CLI parses them). */
export function flags(pairs: Record<string, string | number | undefined>): string[] {
  return Object.entries(pairs).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, String(v)]));
}

/** A JSON file in the job's directory (what the CLI reads an arch or a space from); its path. */
export function jobJson(ctl: JobControl, name: string, value: unknown): string {
  const file = join(ctl.dir, name);
  writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
  return file;
}

/** `--space` for a space param: a built-in name as it is, a space object as a file in the job's directory. */
export function spaceFlag(ctl: JobControl, space: string | object): string {
  return typeof space === "string" ? space : jobJson(ctl, "space.json", space);
}
