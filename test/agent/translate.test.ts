/**
 * The agent's POST /translate (issue 15, 5) on a real HTTP listener on 127.0.0.1, with a real
 * (random-weights) model and tokenizer: the bearer token, the tokens x beam cap, the queue's 503,
 * decoding in slices that leave the event loop free; and the agent turning the token on by itself
 * when it listens beyond loopback.
 */
import { mkdtempSync, rmSync, statSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Agent, isLoopback } from "../../agent/agent.js";
import { loadServing, type Serving } from "../../agent/models.js";
import { listenApp, MAX_TRANSLATE_WORK, translateApp, type Listening, type TranslateLimits } from "../../agent/translate-server.js";
import { Bpe } from "../../data/bpe.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { fakeServer } from "./fake-server.js";
import { supernetWithTokenizer } from "../model-files.js";

const text = ["the cat sat on the mat", "a dog runs in the park", "hello world", "the quick brown fox jumps", "over the lazy dog", "we translate lines of text"];
const bpe = Bpe.train(text, { vocabSize: 60, byteFallback: false, minFrequency: 1 });
const bytes = supernetWithTokenizer(DEMO_SPACE, bpe, 1);
const serving: Serving = loadServing(bytes, loadWasm(), "D1", "0".repeat(64));

const open: Listening[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const l of open) await l.close();
  dirs.forEach((x) => rmSync(x, { recursive: true, force: true }));
});

async function service(limits: TranslateLimits = {}): Promise<string> {
  const app = translateApp({ model: () => serving, agentId: () => "a1", deviceClass: () => "c", busy: () => false }, () => {}, limits);
  const l = await listenApp(app, "127.0.0.1", 0);
  open.push(l);
  return `http://127.0.0.1:${l.port}/translate`;
}

const post = (url: string, body: unknown, token?: string) => fetch(url, {
  method: "POST", body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
});
const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

describe("POST /translate", () => {
  it("with a token: 401 without it or with another, 200 with it; without one: open", async () => {
    const token = "t".repeat(32), url = await service({ token });
    const none = await post(url, { lines: ["hello world"] });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect((await errorOf(none)).code).toBe("unauthorized");
    expect((await post(url, { lines: ["hello world"] }, "x".repeat(32))).status).toBe(401);
    expect((await post(url, { lines: ["hello world"] }, token.slice(1))).status).toBe(401);
    expect((await post(url, { lines: ["hello world"] }, token)).status).toBe(200);
    expect((await post(await service(), { lines: ["hello world"] })).status).toBe(200);
  });

  it("refuses more than MAX_TRANSLATE_WORK source tokens x beam with 413, naming the numbers (the issue's 256 long lines at beam 16)", async () => {
    const url = await service();
    const long = Array.from({ length: 256 }, () => "the quick brown fox jumps over the lazy dog ".repeat(30));
    const t0 = performance.now();
    const r = await post(url, { lines: long, beam: 16 });
    expect(r.status).toBe(413);
    const e = await errorOf(r);
    expect(e.code).toBe("too_much_work");
    expect(e.message).toMatch(new RegExp(`source tokens x beam 16 = \\d+, above the limit of ${MAX_TRANSLATE_WORK} tokens x beam per request`));
    expect(performance.now() - t0).toBeLessThan(3000); // refused before decoding
    expect((await post(url, { lines: ["hello world", "the cat"], beam: 2 })).status).toBe(200);
  });

  it("one request decodes at a time, `queue` may wait, the next gets 503 busy with Retry-After", async () => {
    const url = await service({ queue: 1 });
    const body = { lines: Array.from({ length: 16 }, () => "the cat sat on the mat and the dog runs in the park"), beam: 4 };
    const rs = await Promise.all(Array.from({ length: 6 }, () => post(url, body)));
    const codes = rs.map((r) => r.status);
    expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(2); // the first and the one waiting
    expect(codes.filter((c) => c === 503).length).toBeGreaterThanOrEqual(1);
    expect(codes.every((c) => c === 200 || c === 503)).toBe(true);
    const busy = rs.find((r) => r.status === 503)!;
    expect(busy.headers.get("retry-after")).toBe("1");
    expect((await errorOf(busy)).code).toBe("busy");
    expect((await post(url, body)).status).toBe(200); // free again
  });

  it("a request at the cap leaves the event loop free between slices (heartbeats, /health)", async () => {
    const url = await service();
    const line = "the cat sat on the mat and the dog runs in the park hello world";
    const n = serving.bpe.encode(line).length + 1, beam = 4;
    const lines = Array.from({ length: Math.floor(MAX_TRANSLATE_WORK / (n * beam)) }, () => line);
    let last = performance.now(), maxGap = 0;
    const tick = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 2);
    const t0 = performance.now();
    const r = await post(url, { lines, beam });
    const total = performance.now() - t0;
    clearInterval(tick);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { translations: string[] }).translations).toHaveLength(lines.length);
    expect(maxGap).toBeLessThan(Math.max(50, total / 4)); // a slice, not the whole request
  });
});

describe("the agent's translate token", () => {
  it("is off on loopback, made once and kept (mode 600) when listening beyond it, and required then", async () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "localhost"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "::", "192.168.1.5"].some(isLoopback)).toBe(false);
    const s = await fakeServer();
    try {
      const state = mkdtempSync(join(tmpdir(), "hat-agent-tt-"));
      dirs.push(state);
      const start = async (host: string) => {
        const tok = `enrol-${Math.random()}`;
        s.enrolTokens.add(tok);
        const a = new Agent({ server: s.url, enrolmentToken: tok, reenrol: true, stateDir: state, host, port: 0, waitS: 1, log: () => {}, timeoutMs: 5000 });
        return { a, info: await a.start() };
      };
      const lo = await start("127.0.0.1");
      expect(lo.info.translate_token_file).toBeUndefined();
      expect((await post(`${lo.info.translate_url}/translate`, { lines: ["hi"] })).status).toBe(503); // no model, but no token asked
      await lo.a.close();

      const wide = await start("0.0.0.0");
      const file = wide.info.translate_token_file!;
      expect(file).toBe(join(state, "translate-token"));
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const token = readFileSync(file, "utf8").trim();
      expect(token).toMatch(/^hat_translate_[\w-]{32}$/);
      const port = new URL(wide.info.translate_url).port, url = `http://127.0.0.1:${port}/translate`;
      expect((await post(url, { lines: ["hi"] })).status).toBe(401);
      expect((await post(url, { lines: ["hi"] }, token)).status).toBe(503); // past the token: no model deployed
      await wide.a.close();
      const again = await start("0.0.0.0"); // the same token after a restart
      expect(readFileSync(again.info.translate_token_file!, "utf8").trim()).toBe(token);
      await again.a.close();
    } finally {
      await s.close();
    }
  });
});
