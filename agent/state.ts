/**
 * The agent's state directory (default ~/.hat-agent):
 *   agent.json      {server, agent_id, token, device_class, name} (mode 600)
 *   active.json     {deployment_id, model_sha256}: the model serving now (reloaded on restart)
 *   translate-token the bearer token POST /translate requires when the agent listens beyond loopback (mode 600)
 *   models/<sha256>.hatm   deployed models
 * Every file is written atomically (a temporary file, fsync, rename), so a killed agent leaves
 * either the old file or the new one.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../runtime/files.js";
import { DeviceClass } from "../runtime/fleet-protocol.js";
import { QUANTS } from "../runtime/protocol.js";
import type { Log } from "./log.js";

export const Identity = z.object({
  server: z.string(),
  agent_id: z.string(),
  token: z.string(),
  device_class: DeviceClass,
  name: z.string(),
});
export type Identity = z.infer<typeof Identity>;

/** The model serving, and the products and threads it runs (its deployment's protocol.quant and threads; files from before them: f32, 1). */
export const ActiveModel = z.object({ deployment_id: z.string(), model_sha256: z.string().regex(/^[0-9a-f]{64}$/), quant: z.enum(QUANTS).optional(), threads: z.number().int().min(1).max(16).optional() });
export type ActiveModel = z.infer<typeof ActiveModel>;

export const defaultStateDir = (): string => join(homedir(), ".hat-agent");

/** The server URL as the state keeps it (no trailing slash). */
export const normalizeServer = (url: string): string => url.replace(/\/+$/, "");

export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");


export class AgentState {
  readonly modelsDir: string;

  constructor(readonly dir: string, private readonly log: Log = () => {}) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.modelsDir = join(dir, "models");
    mkdirSync(this.modelsDir, { recursive: true, mode: 0o700 });
  }

  get identityPath(): string {
    return join(this.dir, "agent.json");
  }

  /** The identity kept for `server` (undefined when none, or kept for another server). */
  identityFor(server: string): Identity | undefined {
    const id = this.readJson(this.identityPath, Identity);
    if (id && normalizeServer(id.server) !== normalizeServer(server)) {
      this.log(`state ${this.identityPath} is for server ${id.server}, not ${server}: enrolling again`);
      return undefined;
    }
    return id;
  }

  saveIdentity(id: Identity): void {
    writeFileAtomic(this.identityPath, JSON.stringify({ ...id, server: normalizeServer(id.server) }, null, 2) + "\n", 0o600);
  }

  get translateTokenPath(): string {
    return join(this.dir, "translate-token");
  }

  /** The kept /translate token, if any. */
  translateToken(): string | undefined {
    if (!existsSync(this.translateTokenPath)) return undefined;
    const t = readFileSync(this.translateTokenPath, "utf8").trim();
    return t.length >= 16 ? t : undefined;
  }

  saveTranslateToken(token: string): void {
    writeFileAtomic(this.translateTokenPath, token + "\n", 0o600);
  }

  activeModel(): ActiveModel | undefined {
    return this.readJson(join(this.dir, "active.json"), ActiveModel);
  }

  saveActiveModel(a: ActiveModel): void {
    writeFileAtomic(join(this.dir, "active.json"), JSON.stringify(a) + "\n", 0o600);
  }

  modelPath(sha256: string): string {
    return join(this.modelsDir, `${sha256}.hatm`);
  }

  /** The stored model's bytes when present and intact (sha256 checked), else undefined. */
  readModel(sha256: string): Uint8Array | undefined {
    const p = this.modelPath(sha256);
    if (!existsSync(p)) return undefined;
    const bytes = new Uint8Array(readFileSync(p));
    if (sha256Hex(bytes) !== sha256) {
      this.log(`stored model ${p} does not match its sha256: ignoring it`);
      return undefined;
    }
    return bytes;
  }

  writeModel(sha256: string, bytes: Uint8Array): string {
    const p = this.modelPath(sha256);
    writeFileAtomic(p, bytes, 0o600);
    return p;
  }

  /** Delete stored models other than `keep` (sha256s), and leftover temporary files. */
  pruneModels(keep: readonly string[]): void {
    for (const f of readdirSync(this.modelsDir)) {
      const m = /^([0-9a-f]{64})\.hatm$/.exec(f);
      if (m && keep.includes(m[1])) continue;
      try {
        rmSync(join(this.modelsDir, f), { force: true });
      } catch (e) {
        this.log(`cannot remove ${join(this.modelsDir, f)}: ${(e as Error).message}`);
      }
    }
  }

  private readJson<T>(path: string, schema: z.ZodType<T>): T | undefined {
    if (!existsSync(path)) return undefined;
    try {
      const r = schema.safeParse(JSON.parse(readFileSync(path, "utf8")));
      if (r.success) return r.data;
      this.log(`state file ${path} is not valid (${r.error.issues[0]?.message}): ignoring it`);
    } catch (e) {
      this.log(`state file ${path} cannot be read (${(e as Error).message}): ignoring it`);
    }
    return undefined;
  }
}
