/** STUB (being written): the job runner. */
import type { ServerContext } from "../context.js";
import type { Db } from "../db.js";
import type { JobKind, JobRecord, Jobs, JobState } from "./types.js";

export function migrateJobs(_db: Db): void {}

export class JobRunner implements Jobs {
  constructor(readonly ctx: ServerContext, readonly dir: string) {}
  register<P>(_kind: JobKind<P>): void {}
  create(_kind: string, _params: unknown): JobRecord { throw new Error("stub"); }
  get(_id: string): JobRecord | undefined { return undefined; }
  list(_filter?: { kind?: string; state?: JobState }): JobRecord[] { return []; }
  cancel(_id: string): JobRecord { throw new Error("stub"); }
  settled(_id: string): Promise<JobRecord> { throw new Error("stub"); }
  start(): void {}
  async stop(): Promise<void> {}
}
