/** The agent's downloads (issue 15, 4): a claim above the cap is refused unasked; a body is counted as it streams. */
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentClient, BadReplyError, MAX_DOWNLOAD_BYTES } from "../../agent/client.js";

let server: ServerType, url = "", requests = 0, streamed = 0;
beforeAll(async () => {
  const app = new Hono();
  app.use("*", async (_c, next) => { requests++; await next(); });
  app.get("/small", () => new Response(new Uint8Array(1000).fill(7)));
  // an endless body without a content-length: 64 KiB chunks until the client lets go
  app.get("/endless", () => new Response(new ReadableStream({
    pull(c) { streamed += 65536; c.enqueue(new Uint8Array(65536)); },
  })));
  await new Promise<void>((resolve) => { server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (i) => { url = `http://127.0.0.1:${i.port}`; resolve(); }); });
});
afterAll(() => new Promise<void>((r) => { server.close(() => r()); (server as { closeAllConnections?: () => void }).closeAllConnections?.(); }));

const client = (o = {}) => new AgentClient({ server: url, log: () => {}, backoff: { baseMs: 10, capMs: 20 }, ...o });

describe("AgentClient.download", () => {
  it("refuses a claimed size above its cap (1e12 bytes) without a request", async () => {
    const before = requests;
    await expect(client().download("/small", 1e12)).rejects.toThrow(/the server claims 1000000000000 bytes, above this agent's limit of 1073741824 bytes \(MAX_DOWNLOAD_BYTES\)/);
    await expect(client({ maxDownloadBytes: 999 }).download("/small", 1000)).rejects.toThrow(BadReplyError);
    await expect(client().download("/small", Number.NaN)).rejects.toThrow(BadReplyError);
    expect(requests).toBe(before);
    expect(MAX_DOWNLOAD_BYTES).toBe(2 ** 30);
  });

  it("counts a streamed body and stops at the claim, holding no more than it", async () => {
    expect((await client().download("/small", 1000)).byteLength).toBe(1000);
    await expect(client().download("/small", 999)).rejects.toThrow(/1000 bytes, more than the 999 expected/);
    const rss0 = process.memoryUsage().rss;
    await expect(client().download("/endless", 4 * 2 ** 20)).rejects.toThrow(/more than the 4194304 bytes expected/);
    expect(streamed).toBeLessThan(64 * 2 ** 20); // the server was stopped soon after the claim
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 2 ** 20);
  });
});
