/** What every sub-app of the server is built from (server/app.ts makes one). */
import type { MiddlewareHandler } from "hono";
import type { ArtifactStore } from "./artifacts.js";
import type { Db } from "./db.js";
import type { Jobs } from "./jobs/types.js";

export interface ServerConfig {
  /** Everything the server keeps: state.db, artifacts/, jobs/ (working directories). */
  dataDir: string;
  /** sha256 of the admin token. */
  adminTokenHash: string;
  /**
   * A profiling lease ends this long after the agent's last heartbeat or rows (default 60 s): the
   * floor; a lease whose work takes longer is longer (server/fleet/work.ts leaseSecondsFor).
   */
  leaseSeconds: number;
  /** The speed (GFLOP/s) leases assume of a device before its campaign's rows say (default LEASE_ASSUMED_GFLOPS). */
  leaseAssumedGflops: number;
  /** Architectures per profiling lease (default 5). */
  leaseBatch: number;
  /** Longest request body accepted (default 64 MiB: datasets are uploaded as JSON). */
  bodyLimitBytes: number;
  /** Longest long-poll an agent may ask for (default 30 s). */
  maxWaitSeconds: number;
  version: string;
  /**
   * Directories (real paths) a `files` dataset may be read from (hat serve --corpus-root); empty:
   * datasets come only as uploads or the built-in demo.
   */
  corpusRoots: string[];
  /** Longest file a `files` dataset reads, counted while streaming (default 400 MiB). */
  maxCorpusFileBytes: number;
}

export interface ServerContext {
  config: ServerConfig;
  db: Db;
  artifacts: ArtifactStore;
  jobs: Jobs;
  log: (line: string) => void;
  /** Route guards: the admin token; an agent token; either. */
  admin: MiddlewareHandler;
  agent: MiddlewareHandler;
  anyone: MiddlewareHandler;
}
