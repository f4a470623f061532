/**
 * The agent (agent/) against a stand-in server (fake-server.ts): enrolment and the kept identity,
 * a profiling lease reported in chunks with stable idempotency keys, deployments (download,
 * sha256 check, atomic switch, restore on restart), POST /translate with a real (random-weights)
 * model carrying a tokenizer, backoff through a server restart, bad replies, and 401.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Agent, type AgentOptions } from "../../agent/agent.js";
import { UnauthorizedError } from "../../agent/client.js";
import { chunkKey } from "../../agent/profiler.js";
import { sha256Hex } from "../../agent/state.js";
import { agentCommand } from "../../agent/command.js";
import { Bpe } from "../../data/bpe.js";
import { superDims } from "../../runtime/arch.js";
import { sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { encodeModel } from "../../runtime/format.js";
import type { DeployWork, ProfileWork } from "../../runtime/fleet-protocol.js";
import { protocolOf } from "../../runtime/protocol.js";
import { randomTensors, superTensorShapes } from "../../runtime/weights.js";
import { rng } from "../helpers.js";
import { fakeServer, until, type FakeServer } from "./fake-server.js";

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), "hat-agent-")); dirs.push(d); return d; };
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// a random-weights SuperTransformer of the demo space with a real BPE tokenizer: it translates gibberish, through the real path
const text = ["the cat sat on the mat", "a dog runs in the park", "hello world", "the quick brown fox jumps", "over the lazy dog", "we translate lines of text"];
const bpe = Bpe.train(text, { vocabSize: 60, byteFallback: false, minFrequency: 1 });
const space = DEMO_SPACE;
function model(seed: number): Uint8Array {
  const d = superDims(space), V = bpe.vocab().size;
  return encodeModel({
    kind: "supertransformer", space, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
    vocab: bpe.vocab(), tokenizer: bpe.toJSON(), meta: { seed },
  }, randomTensors(superTensorShapes(space, V), seed));
}
const protocol = protocolOf({ runs: 2, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2 });
const backoff = { baseMs: 20, capMs: 150 };

const agents: Agent[] = [];
const servers: FakeServer[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) { a.stop(); await a.close(); }
  for (const s of servers.splice(0)) await s.close();
});

async function server(port = 0): Promise<FakeServer> {
  const s = await fakeServer(port);
  servers.push(s);
  return s;
}

function agent(s: FakeServer, o: Partial<AgentOptions> = {}): { agent: Agent; logs: string[] } {
  const logs: string[] = [];
  const a = new Agent({ server: s.url, stateDir: tmp(), host: "127.0.0.1", port: 0, waitS: 1, log: (l) => logs.push(l), backoff, timeoutMs: 5000, ...o });
  agents.push(a);
  return { agent: a, logs };
}

/** Start the agent with a fresh enrolment token; run() in the background. */
async function running(s: FakeServer, o: Partial<AgentOptions> = {}) {
  const token = `enrol-${Math.random()}`;
  s.enrolTokens.add(token);
  const r = agent(s, { enrolmentToken: token, ...o });
  const info = await r.agent.start();
  const done = r.agent.run();
  return { ...r, info, done };
}

const post = (url: string, body: unknown, type = "application/json") =>
  fetch(url, { method: "POST", headers: { "content-type": type }, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("agent", () => {
  it("enrols with its hardware, keeps its identity (mode 600) and reuses it after a restart; another server or --reenrol enrols again", async () => {
    const s = await server();
    s.enrolTokens.add("tok-1");
    const state = tmp();
    const a = agent(s, { enrolmentToken: "tok-1", stateDir: state, name: "edge-1", deviceClass: "pi5" }).agent;
    const info = await a.start();
    expect(info).toMatchObject({ agent_id: "agent-1", device_class: "pi5" });
    expect(info.translate_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.enrolments).toHaveLength(1);
    const e = s.enrolments[0];
    expect(e).toMatchObject({ name: "edge-1", device_class: "pi5", translate_url: info.translate_url });
    expect(e.hardware.wasm_simd).toBe(true);
    expect(e.hardware.cores).toBeGreaterThan(0);
    const file = join(state, "agent.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ server: s.url, agent_id: "agent-1", token: "agent-token-1", device_class: "pi5" });
    await a.close();

    // restart: the same identity, no enrolment (the used token is not needed again)
    const b = agent(s, { enrolmentToken: "tok-1", stateDir: state }).agent;
    expect((await b.start()).agent_id).toBe("agent-1");
    await b.close();
    const c = agent(s, { stateDir: state }).agent;
    expect((await c.start()).agent_id).toBe("agent-1");
    await c.close();
    expect(s.enrolments).toHaveLength(1);

    // another enrolment token alone changes nothing; with reenrol: enrol again
    const c2 = agent(s, { enrolmentToken: "tok-unused", stateDir: state }).agent;
    expect((await c2.start()).agent_id).toBe("agent-1");
    await c2.close();
    s.enrolTokens.add("tok-2");
    const d = agent(s, { enrolmentToken: "tok-2", stateDir: state, reenrol: true }).agent;
    expect((await d.start()).agent_id).toBe("agent-2");
    await d.close();

    // another server: its identity is not reused; without a token that is an error
    const s2 = await server();
    await expect(agent(s2, { stateDir: state }).agent.start()).rejects.toThrow(/give an enrolment token/);
    // a refused enrolment token is a clear error, not a retry loop
    await expect(agent(s2, { stateDir: state, enrolmentToken: "nope" }).agent.start()).rejects.toThrow(/enrolment refused: unauthorized/);
  });

  it("measures a lease one architecture at a time, reports chunks with stable idempotency keys, skips an invalid arch", async () => {
    const s = await server();
    const { info, logs } = await running(s);
    expect(info.agent_id).toBe("agent-1");
    const r = rng(3);
    const archs = [sampleArch(space, r), { encoderEmbedDim: -1 }, sampleArch(space, r), smallestArch(space)];
    s.failRows = 2; // the first chunk fails twice, then goes through: the same key every time
    const work: ProfileWork = { kind: "profile", lease_id: "L1", campaign_id: "C1", protocol: { ...protocol, rounds: 2 }, archs: archs.map((arch, i) => ({ index: 10 + i, arch })), lease_s: 60 };
    s.push(work);
    await until(() => s.rows.size === 3, 30_000, "3 rows");
    const first = s.rowPosts.filter((p) => p.indexes[0] === 10);
    expect(first.map((p) => p.status)).toEqual([503, 503, 200]);
    expect(new Set(first.map((p) => p.key)).size).toBe(1);
    expect(first[0].key).toBe(chunkKey("L1", [10]));
    expect(s.rowPosts.filter((p) => p.status === 200).map((p) => p.indexes)).toEqual([[10], [12], [13]]);
    expect([...s.rows.keys()]).toEqual([10, 12, 13]);
    const rows = [...s.rows.values()];
    expect(rows.map((x) => x.seq)).toEqual([0, 1, 2]);
    for (const row of rows) {
      expect(row.encoder_ms).toBeGreaterThan(0);
      expect(row.decoder_ms).toBeGreaterThan(0);
      expect(row.runs).toBe(2);
      expect(row.build).toMatch(/hat.*\.wasm/);
      expect(row.load1).toBeGreaterThanOrEqual(0);
    }
    expect(logs.some((l) => /architecture 11 skipped/.test(l))).toBe(true);
    expect(logs.some((l) => /HTTP 503.*retrying/.test(l))).toBe(true);
    expect(chunkKey("L1", [10])).not.toBe(chunkKey("L1", [10, 12]));
    expect(chunkKey("L1", [10])).not.toBe(chunkKey("L2", [10]));

    // the server ends the lease after the first chunk: the batch stops there
    s.leaseRowLimit.set("L2", 1);
    s.push({ ...work, lease_id: "L2", archs: [0, 1, 2].map((i) => ({ index: 20 + i, arch: smallestArch(space) })) });
    await until(() => logs.some((l) => /lease L2: .*lease over/.test(l)), 30_000, "lease L2 over");
    expect(s.rowPosts.filter((p) => p.lease === "L2").map((p) => p.indexes)).toEqual([[20]]);

    // a short lease: a heartbeat before each measurement (2 rounds x 2 architectures, the rounds
    // interleaved: 30, 31, 30, 31) once the last contact is older than lease_s / 2
    s.push({ ...work, lease_id: "L3", lease_s: 1e-6, archs: [30, 31].map((index) => ({ index, arch: smallestArch(space) })) });
    await until(() => logs.some((l) => /lease L3: 2 measured/.test(l)), 30_000, "lease L3 done");
    expect(s.heartbeats.filter((h) => h === "L3").length).toBeGreaterThanOrEqual(4); // and the timer's, while measuring
    expect(s.rowPosts.filter((p) => p.lease === "L3").map((p) => p.indexes)).toEqual([[30], [31]]);
    // a heartbeat saying the lease is over stops the batch before anything is measured
    s.endedLeases.add("L4");
    s.push({ ...work, lease_id: "L4", lease_s: 1e-6, archs: [{ index: 40, arch: smallestArch(space) }] });
    await until(() => logs.some((l) => /lease L4: 0 measured.*lease over/.test(l)), 30_000, "lease L4 over");
    expect(s.rowPosts.filter((p) => p.lease === "L4")).toEqual([]);
  });

  it("deploys a model (download, sha256, switch, measure), serves /translate, refuses a sha256 mismatch with the old model serving, reloads after a restart", async () => {
    const s = await server();
    const state = tmp();
    const { agent: a, info, done } = await running(s, { stateDir: state });
    const base = info.translate_url, url = `${base}/translate`;

    // no model yet: 503; bad bodies: 400 naming the field; 415; 413
    expect((await post(url, { lines: ["hello"] })).status).toBe(503);
    const bad = await post(url, { lines: "hello" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^lines:/);
    expect((await post(url, { lines: ["a"], beam: 99 })).status).toBe(400);
    expect((await post(url, "{not json")).status).toBe(400);
    expect((await post(url, "lines=a", "text/plain")).status).toBe(415);
    expect((await post(url, { lines: ["x".repeat(2 * 1024 * 1024)] })).status).toBe(413);

    const m1 = model(1), sha1 = sha256Hex(m1);
    s.artifacts.set(sha1, m1);
    const d1: DeployWork = { kind: "deploy", deployment_id: "D1", model_sha256: sha1, model_bytes: m1.byteLength, model_url: `/v1/artifacts/${sha1}`, protocol };
    s.push(d1);
    await until(() => s.reports.length === 1, 30_000, "report D1");
    expect(s.reports[0]).toMatchObject({ id: "D1", body: { state: "active" } });
    const rep = s.reports[0].body as { measured_ms: number; encoder_ms: number; decoder_ms: number };
    expect(rep.measured_ms).toBeCloseTo(rep.encoder_ms + rep.decoder_ms, 6);
    expect(statSync(join(state, "models", `${sha1}.hatm`)).size).toBe(m1.byteLength);

    const t = await post(url, { lines: ["hello world", "", "the cat"], beam: 2 });
    expect(t.status).toBe(200);
    const tr = (await t.json()) as { translations: string[]; deployment_id: string; model_sha256: string; ms: number };
    expect(tr.translations).toHaveLength(3);
    expect(tr.translations[1]).toBe("");
    expect(tr).toMatchObject({ deployment_id: "D1", model_sha256: sha1 });
    const health = await (await fetch(`${base}/health`)).json();
    expect(health).toMatchObject({ ok: true, agent_id: "agent-1", deployment_id: "D1", model_sha256: sha1, busy: false });

    // a model whose bytes do not match the deployment's sha256: failed, the old model keeps serving
    const m2 = model(2), wrong = "0".repeat(64);
    s.artifacts.set(wrong, m2);
    s.push({ ...d1, deployment_id: "D2", model_sha256: wrong, model_bytes: m2.byteLength, model_url: `${s.url}/v1/artifacts/${wrong}` });
    await until(() => s.reports.length === 2, 30_000, "report D2");
    expect(s.reports[1]).toMatchObject({ id: "D2", body: { state: "failed" } });
    expect(String(s.reports[1].body.error)).toMatch(/sha256 mismatch/);
    const t2 = (await (await post(url, { lines: ["hello"] })).json()) as { model_sha256: string };
    expect(t2.model_sha256).toBe(sha1);

    // a model without a tokenizer: failed, the old one serves
    const d = superDims(space);
    const noTok = encodeModel({ kind: "supertransformer", space, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim }, vocab: bpe.vocab(), meta: {} }, randomTensors(superTensorShapes(space, bpe.vocab().size), 3));
    const sha3 = sha256Hex(noTok);
    s.artifacts.set(sha3, noTok);
    s.push({ ...d1, deployment_id: "D3", model_sha256: sha3, model_bytes: noTok.byteLength, model_url: `/v1/artifacts/${sha3}` });
    await until(() => s.reports.length === 3, 30_000, "report D3");
    expect(s.reports[2]).toMatchObject({ id: "D3", body: { state: "failed" } });
    expect(String(s.reports[2].body.error)).toMatch(/no tokenizer/);

    // only the active model stays on disk
    expect(readdirSync(join(state, "models"))).toEqual([`${sha1}.hatm`]);

    // a restart: the last active model serves again at once
    a.stop();
    await done;
    const b = agent(s, { stateDir: state }).agent;
    const info2 = await b.start();
    const t3 = await post(`${info2.translate_url}/translate`, { lines: ["hello world"] });
    expect(t3.status).toBe(200);
    expect(((await t3.json()) as { deployment_id: string }).deployment_id).toBe("D1");
  });

  it("deploys at the protocol's quant: int8 products loaded, measured and reported, kept across a restart; a later f32 deployment of the same model reloads it", async () => {
    const s = await server();
    const state = tmp();
    const { agent: a, done } = await running(s, { stateDir: state });
    const m = model(4), sha = sha256Hex(m);
    s.artifacts.set(sha, m);
    const d: DeployWork = { kind: "deploy", deployment_id: "Q1", model_sha256: sha, model_bytes: m.byteLength, model_url: `/v1/artifacts/${sha}`, protocol: { ...protocol, quant: "int8" } };
    s.push(d);
    await until(() => s.reports.length === 1, 30_000, "report Q1");
    expect(s.reports[0]).toMatchObject({ id: "Q1", body: { state: "active", protocol: { quant: "int8" } } });
    expect(a.models.current!.quant).toBe("int8");
    expect(a.models.current!.sub.weights.quant).toBe("int8"); // the model runs int8 products, not only says so
    expect(JSON.parse(readFileSync(join(state, "active.json"), "utf8"))).toMatchObject({ deployment_id: "Q1", quant: "int8" });
    s.push({ ...d, deployment_id: "Q2", protocol });
    await until(() => s.reports.length === 2, 30_000, "report Q2");
    expect(s.reports[1]).toMatchObject({ id: "Q2", body: { state: "active", protocol: { quant: "f32" } } });
    expect(a.models.current!.sub.weights.quant).toBe("f32");
    s.push({ ...d, deployment_id: "Q3" });
    await until(() => s.reports.length === 3, 30_000, "report Q3");
    a.stop();
    await done;
    const b = agent(s, { stateDir: state }).agent;
    await b.start();
    expect(b.models.current!.sub.weights.quant).toBe("int8"); // restored with the products it served
  });

  it("deploys at the protocol's threads: the model served and measured on 2 threads, the report says so, kept across a restart", async () => {
    const s = await server();
    const state = tmp();
    const { agent: a, done } = await running(s, { stateDir: state });
    const m = model(5), sha = sha256Hex(m);
    s.artifacts.set(sha, m);
    const d: DeployWork = { kind: "deploy", deployment_id: "T1", model_sha256: sha, model_bytes: m.byteLength, model_url: `/v1/artifacts/${sha}`, protocol: { ...protocol, threads: 2 } };
    s.push(d);
    await until(() => s.reports.length === 1, 30_000, "report T1");
    expect(s.reports[0]).toMatchObject({ id: "T1", body: { state: "active", protocol: { threads: 2 } } });
    expect((s.reports[0].body as { protocol: { build: string } }).protocol.build).toMatch(/^hat-threads/);
    expect(a.models.current!.threads).toBe(2);
    expect(a.models.current!.wasm.threads).toBe(2); // it runs on 2 threads, not only says so
    const t = await post(`${a.translateUrl}/translate`, { lines: ["hello world"] });
    expect(t.status).toBe(200);
    a.stop();
    await done;
    const b = agent(s, { stateDir: state }).agent;
    await b.start();
    expect(b.models.current!.wasm.threads).toBe(2); // restored on the threads it served on
  });

  it("backs off while the server is down and picks it up again when it is back; a bad reply is logged, not fatal", async () => {
    const s = await server();
    const { logs } = await running(s);
    await until(() => s.polls >= 1, 10_000, "first poll");
    const port = s.port, tokens = [...s.tokens];
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    await until(() => logs.filter((l) => /network error.*retrying/.test(l)).length >= 2, 10_000, "retries");
    const s2 = await server(port);
    tokens.forEach((t) => s2.tokens.add(t));
    s2.push({ kind: "nonsense" });
    s2.push({ kind: "profile", lease_id: "L9", campaign_id: "C", protocol, archs: [{ index: 0, arch: smallestArch(space) }], lease_s: 60 });
    await until(() => s2.rows.size === 1, 20_000, "a row after the restart");
    expect(logs.some((l) => /bad reply to GET \/v1\/agent\/work/.test(l))).toBe(true);
  });

  it("stops mid-batch on stop(): the measurement in progress finishes, every measured row is sent, run() resolves", async () => {
    const s = await server();
    const { agent: a, logs, done } = await running(s);
    s.push({ kind: "profile", lease_id: "L5", campaign_id: "C", protocol: { ...protocol, runs: 100 }, archs: Array.from({ length: 20 }, (_, i) => ({ index: i, arch: smallestArch(space) })), lease_s: 60 });
    await until(() => s.rows.size >= 1, 20_000, "a first row");
    a.stop();
    await done;
    // (a chunk whose reply the stop cut off is sent again with its key: the server stores it once)
    const m = logs.map((l) => /lease L5: (\d+) measured, \d+ stored$/.exec(l)).find(Boolean);
    expect(m, logs.slice(-5).join("\n")).toBeTruthy();
    expect(Number(m![1])).toBeLessThan(20);
    expect(s.rows.size).toBe(Number(m![1]));
    expect(logs.at(-1)).toMatch(/stopped/);
  });

  it("401: stops with 'revoked or unknown token: enrol again'", async () => {
    const s = await server();
    const { done } = await running(s);
    await until(() => s.polls >= 1, 10_000, "first poll");
    s.tokens.clear(); // revoked
    await expect(done).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(done).rejects.toThrow(/revoked or unknown token: enrol again/);
  });

  it("hat agent: the first stdout line names the agent and its translate URL; --help; bad flags are usage errors", async () => {
    const s = await server();
    s.enrolTokens.add("cli-tok");
    const out: string[] = [], err: string[] = [];
    const stop = new AbortController();
    const run = agentCommand(["--server", s.url, "--token", "cli-tok", "--state", tmp(), "--port", "0", "--wait-s", "1", "--class", "cli-class"], { out: (x) => out.push(x), err: (x) => err.push(x) }, { signal: stop.signal });
    await until(() => out.length > 0, 10_000, "stdout line");
    const first = JSON.parse(out[0]);
    expect(first).toMatchObject({ agent_id: "agent-1", device_class: "cli-class" });
    expect((await fetch(`${first.translate_url}/health`)).status).toBe(200);
    stop.abort();
    await run;
    expect(err.every((l) => /^\d{4}-\d\d-\d\dT/.test(l))).toBe(true);
    const help: string[] = [];
    await agentCommand(["--help"], { out: (x) => help.push(x), err: () => {} });
    expect(help.join("\n")).toMatch(/--server URL/);
    await expect(agentCommand(["--token", "x"], { out: () => {}, err: () => {} })).rejects.toThrow(/--server is required/);
    await expect(agentCommand(["--server", s.url, "--port", "x"], { out: () => {}, err: () => {} })).rejects.toMatchObject({ name: "UsageError" });
  });
});
