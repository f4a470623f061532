/**
 * The wire contract between the server (server/fleet) and an agent (agent/): every message both
 * sides exchange, as zod schemas. The server validates what agents send with them; the agent
 * validates what the server replies with them, so a bad or unexpected reply is a logged error,
 * never a crash. docs/fleet.md walks through the exchange.
 *
 * Architectures travel as the project's JSON (runtime/types.ts Arch) and are re-checked with
 * validateArch on both sides; measurement protocols as runtime/protocol.ts's schema; numbers are
 * milliseconds unless named otherwise.
 */
import { z } from "zod";
import { Protocol } from "./protocol.js";

/** The API's version prefix; every route below is under it. */
export const API = "/v1";

/** What an agent tells the server about its hardware when it enrols. */
export const Hardware = z.object({
  cpu: z.string().max(200), // CPU model as the OS reports it
  cores: z.number().int().min(1).max(4096),
  arch: z.string().max(32), // x64, arm64, ...
  platform: z.string().max(32), // linux, darwin, ...
  memory_bytes: z.number().int().min(0),
  wasm_simd: z.boolean(),
  wasm_relaxed_simd: z.boolean(),
  node: z.string().max(32),
  agent_version: z.string().max(32),
}).strict();
export type Hardware = z.infer<typeof Hardware>;

/**
 * An agent's translate URL: http(s) only (GET /v1/agents shows it to users and the demo opens it;
 * a javascript: or file: URL there would be a trap).
 */
export const TranslateUrl = z.string().max(300).url().refine((u) => /^https?:\/\//i.test(u), "must be an http:// or https:// URL");

/**
 * A measured latency (ms): at least a microsecond and at most about three hours (the longest
 * constraint a deployment takes is 1e7 ms); a spread (std) may be 0. Outside that the number is
 * a broken clock or a lie, and it would poison a predictor fitted on it.
 */
export const MIN_MS = 1e-3, MAX_MS = 1e7;
const Ms = z.number().finite().min(MIN_MS, `must be at least ${MIN_MS} ms`).max(MAX_MS, `must be at most ${MAX_MS} ms`);
const StdMs = z.number().finite().min(0).max(MAX_MS, `must be at most ${MAX_MS} ms`);

/** A device class: the name latency datasets, predictors and deployments are keyed by. */
export const DeviceClass = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "a device class is 1-64 of a-z 0-9 . _ - starting with a letter or digit");

/** POST /v1/agent/enrol — body; no Authorization header: the one-time enrolment token is in it. */
export const EnrolRequest = z.object({
  enrolment_token: z.string().min(1).max(200),
  name: z.string().min(1).max(100),
  /** Overrides nothing: used only when the enrolment token names no class. */
  device_class: DeviceClass.optional(),
  hardware: Hardware,
  /** Where the agent serves POST /translate (for users and the demo); optional. */
  translate_url: TranslateUrl.optional(),
  /**
   * Random, chosen by the agent for this enrolment and sent again on retries: a retry whose first
   * reply was lost gets the same agent (with a fresh token) instead of "token already used".
   */
  request_id: z.string().min(8).max(100).optional(),
}).strict();
export type EnrolRequest = z.infer<typeof EnrolRequest>;

/**
 * POST /v1/agent/hello — an agent that restarted with its kept identity says where it is now:
 * its hardware (the machine may have changed) and its translate URL (a new port).
 */
export const HelloRequest = z.object({
  hardware: Hardware,
  translate_url: TranslateUrl.optional(),
}).strict();
export type HelloRequest = z.infer<typeof HelloRequest>;

export const EnrolResponse = z.object({
  agent_id: z.string(),
  /** The agent's own bearer token from now on (revocable); shown once. */
  token: z.string(),
  device_class: DeviceClass,
});
export type EnrolResponse = z.infer<typeof EnrolResponse>;

/** One architecture of a campaign, by its index in the campaign's list (the row's identity). */
export const LeasedArch = z.object({ index: z.number().int().min(0), arch: z.unknown() });

/** Work: measure these architectures, one at a time, nothing else running. */
export const ProfileWork = z.object({
  kind: z.literal("profile"),
  lease_id: z.string(),
  campaign_id: z.string(),
  /** The campaign's protocol: the agent measures each architecture protocol.rounds times, keeping the fastest. */
  protocol: Protocol,
  archs: z.array(LeasedArch).min(1),
  /** The lease ends this many seconds after the last heartbeat or rows; then the rest is reassigned. */
  lease_s: z.number().positive(),
});
export type ProfileWork = z.infer<typeof ProfileWork>;

/** Work: run this model (download, check sha256, load, switch, measure, report). */
export const DeployWork = z.object({
  kind: z.literal("deploy"),
  deployment_id: z.string(),
  model_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  model_bytes: z.number().int().positive(),
  /** GET this (same server, agent token) for the model file. */
  model_url: z.string(),
  /** The protocol to measure the deployed model's latency with (the vocabulary is the model's). */
  protocol: Protocol,
});
export type DeployWork = z.infer<typeof DeployWork>;

/** GET /v1/agent/work?wait_s=N — 200 with this, or 204 when nothing came within wait_s. */
export const Work = z.discriminatedUnion("kind", [ProfileWork, DeployWork]);
export type Work = z.infer<typeof Work>;

/**
 * One measured architecture (runtime/profile.ts ProfileResult, trimmed to what a row keeps): the
 * row's protocol is the lease's with these runs and this build.
 */
export const MeasuredRow = z.object({
  index: z.number().int().min(0),
  encoder_ms: Ms,
  decoder_ms: Ms,
  encoder_std_ms: StdMs,
  decoder_std_ms: StdMs,
  runs: z.number().int().min(1),
  build: z.string().max(64),
  /** 1-minute load average when measured. */
  load1: z.number().nonnegative().finite().optional(),
  /** Position of the measurement in the agent's process (0 = first: warm-up prone). */
  seq: z.number().int().min(0).optional(),
  /** The machine's speed when measured (runtime/steady.ts: >1 slower than usual); agents before it send none. */
  speed: z.number().positive().finite().optional(),
  /** The reference architecture's timing (ms) behind `speed`. */
  ref_ms: z.number().positive().finite().optional(),
}).strict();
export type MeasuredRow = z.infer<typeof MeasuredRow>;

/**
 * POST /v1/agent/leases/:lease_id/rows — a chunk of rows. The idempotency key names the chunk: a
 * retry with the same key gets the first reply and stores nothing again (and a row of an index
 * already stored is never stored twice, whoever sends it).
 */
export const RowsRequest = z.object({
  idempotency_key: z.string().min(8).max(100),
  rows: z.array(MeasuredRow).min(1).max(1000),
}).strict();
export type RowsRequest = z.infer<typeof RowsRequest>;

export const RowsResponse = z.object({
  stored: z.number().int(), // rows stored by this request (a replay, same key, gets the first reply again and stores nothing)
  duplicates: z.number().int(), // rows whose index was already stored
  /** false when the lease is over (cancelled campaign, or reassigned): stop this batch. */
  lease_active: z.boolean(),
});
export type RowsResponse = z.infer<typeof RowsResponse>;

/** POST /v1/agent/leases/:lease_id/heartbeat — empty body; extends the lease. */
export const HeartbeatResponse = z.object({ lease_active: z.boolean(), lease_s: z.number() });

/** POST /v1/agent/deployments/:deployment_id — what became of a deployment on this agent. */
export const DeploymentReport = z.object({
  state: z.enum(["active", "failed"]),
  /** Measured latency of the deployed model here, with the work's protocol (when active). */
  measured_ms: Ms.optional(),
  encoder_ms: Ms.optional(),
  decoder_ms: Ms.optional(),
  /** The protocol measured: the work's, with the model's vocabulary and the agent's build (agents before it existed send none). */
  protocol: Protocol.optional(),
  /** The machine's speed when measured_ms was measured (runtime/steady.ts: >1 slower than usual); agents before it send none. */
  speed: z.number().positive().finite().optional(),
  /** The reference architecture's timing (ms) behind `speed`. */
  ref_ms: z.number().positive().finite().optional(),
  error: z.string().max(2000).optional(),
}).strict();
export type DeploymentReport = z.infer<typeof DeploymentReport>;

/** The agent's local POST /translate. */
export const TranslateRequest = z.object({
  lines: z.array(z.string().max(10_000)).min(1).max(256),
  beam: z.number().int().min(1).max(16).optional(),
  lenpen: z.number().min(0).max(5).optional(),
}).strict();
export const TranslateResponse = z.object({
  translations: z.array(z.string()),
  deployment_id: z.string(),
  model_sha256: z.string(),
  ms: z.number(),
});

/** Every error the server sends: HTTP status + this body. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorBody = z.infer<typeof ErrorBody>;
