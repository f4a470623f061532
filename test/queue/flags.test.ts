/**
 * The queue mode's inputs, without Redis: the --queue URL, a spec's paths as the queue carries
 * them (server/queue/backend.ts queueSpec), and `hat worker` / `hat serve` flags that are wrong.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import { queueSpec } from "../../server/queue/backend.js";
import { parseRedisUrl } from "../../server/queue/redis.js";
import type { JobSpec } from "../../server/jobs/spec.js";

const dir = mkdtempSync(join(tmpdir(), "hat-queue-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await main(argv, { out: () => {}, err: (s) => err.push(s) });
  return { code, err: err.join("\n") };
}

describe("the queue mode's inputs", () => {
  it("reads redis:// URLs and names the flag when one is wrong", () => {
    expect(parseRedisUrl("redis://127.0.0.1:6390/2")).toMatchObject({ host: "127.0.0.1", port: 6390, db: 2, tls: false, shown: "redis://127.0.0.1:6390/2" });
    expect(parseRedisUrl("rediss://u:secret@h")).toMatchObject({ host: "h", port: 6379, username: "u", password: "secret", tls: true, shown: "rediss://u@h" });
    expect(() => parseRedisUrl("http://h:1")).toThrow(/--queue: "http:\/\/h:1" is not a redis:\/\/ URL/);
    expect(() => parseRedisUrl("nope")).toThrow(/--queue: "nope" is not a URL/);
    expect(() => parseRedisUrl("redis://h/99")).toThrow(/--queue: the database number "99" is not 0..15/);
  });

  it("puts a spec on the queue with its artifacts and job files as placeholders, and refuses other server files", () => {
    const artifacts = join(dir, "artifacts"), job = join(dir, "jobs", "job_1");
    const sha = "ab".repeat(32);
    mkdirSync(join(artifacts, "ab"), { recursive: true });
    mkdirSync(job, { recursive: true });
    const spec = { kind: "quantize", model: join(artifacts, "ab", sha), options: { bits: 8, method: "kmeans" }, out: join(job, "quantized.hatm") } as unknown as JobSpec;
    expect(queueSpec(spec, job, artifacts)).toEqual({
      spec: { kind: "quantize", model: `hat-artifact:${sha}`, options: { bits: 8, method: "kmeans" }, out: "hat-job:quantized.hatm" }, inputs: [sha], outputs: ["quantized.hatm"],
    });
    const other = join(dir, "elsewhere.hatm");
    writeFileSync(other, "x");
    expect(() => queueSpec({ ...spec, model: other } as JobSpec, job, artifacts)).toThrow(/names the server's file .*elsewhere\.hatm, which is not an artifact/);
    expect(() => queueSpec({ ...spec, out: join(job, "sub", "x.hatm") } as JobSpec, job, artifacts)).toThrow(/not a plain file name/);
  });

  it("hat worker and hat serve say what is wrong with their queue flags (exit 2)", async () => {
    const base = ["worker", "--server", "http://127.0.0.1:1", "--token", "t", "--queue", "redis://127.0.0.1:1"];
    expect(await run([...base, "--kinds", "train,campaign"])).toEqual({ code: 2, err: expect.stringMatching(/--kinds: 'campaign' is not a kind a worker runs .*campaigns run on the server/) });
    expect(await run(["worker", "--server", "http://127.0.0.1:1", "--queue", "redis://h"])).toEqual({ code: 2, err: expect.stringMatching(/--token is required/) });
    expect(await run([...base.slice(0, 5), "--queue", "h:1"])).toEqual({ code: 2, err: expect.stringMatching(/--queue: "h:1" is not a URL|is not a redis:\/\/ URL/) });
    expect(await run([...base, "--concurrency", "0"])).toEqual({ code: 2, err: expect.stringMatching(/--concurrency must be >= 1/) });
    expect(await run(["serve", "--data", join(dir, "srv"), "--queue-attempts", "2"])).toEqual({ code: 2, err: expect.stringMatching(/--queue-attempts and --queue-backoff-s need --queue/) });
  });
});
