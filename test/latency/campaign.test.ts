/**
 * latency/campaign.ts: the architecture list, interruption and resumption without losing or
 * repeating a row (in-process, and a real SIGKILL of `hat profile-campaign`), the re-measure
 * pass, refusals to mix devices or protocols, and a real measurement in the wasm runtime.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateSpace } from "../../runtime/arch.js";
import { archKey } from "../../runtime/arch-features.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import type { Arch } from "../../runtime/types.js";
import { campaignArchs, runCampaign, type Measure } from "../../latency/campaign.js";
import { archToCell, readDataset, type DeviceInfo } from "../../latency/dataset.js";
import { repoRoot, TINY_SPACE } from "../helpers.js";
import { hat } from "../cli/hat.js";

const space = validateSpace({ ...TINY_SPACE, endeLayerChoices: [1, 2] });
const dir = mkdtempSync(join(tmpdir(), "hat-campaign-"));
const device: DeviceInfo = { cpu: "Test CPU", cores: 2, arch: "x64", platform: "linux" };
const protocol = { runs: 3, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2 };

/** A deterministic stand-in for profileArch: latency from the arch; each call 0.1 % slower than the last. */
function fakeMeasure(): Measure {
  let calls = 0;
  return (a: Arch) => {
    calls++;
    const slow = 1 + 0.001 * calls;
    const enc = a.encoderEmbedDim * a.encoderLayers / 10, dec = a.decoderEmbedDim * a.decoderLayers / 5;
    return { encoder_ms: enc * slow, decoder_ms: dec * slow, encoder_std_ms: 0.01 * enc, decoder_std_ms: 0.01 * dec };
  };
}

describe("profiling campaigns", () => {
  it("the list: extremes first, then seeded samples; the same for the same seed; a prefix for a smaller N", () => {
    const a = campaignArchs(space, 30, 7);
    expect(a).toHaveLength(30);
    expect(archKey(a[0])).toBe(archKey(smallestArch(space)));
    expect(archKey(a[1])).toBe(archKey(largestArch(space)));
    expect(new Set(a.map(archKey)).size).toBe(30);
    expect(campaignArchs(space, 30, 7)).toEqual(a);
    expect(campaignArchs(space, 12, 7)).toEqual(a.slice(0, 12));
    expect(campaignArchs(space, 30, 8).slice(4)).not.toEqual(a.slice(4));
    // a space with fewer architectures than asked: all of them, and no hang
    const one = validateSpace({ ...space, encoderEmbedChoices: [32], decoderEmbedChoices: [36], encoderFfnChoices: [48], decoderFfnChoices: [44], encoderLayerChoices: [2], decoderLayerChoices: [1], encoderHeadChoices: [4], decoderSelfHeadChoices: [4], decoderCrossHeadChoices: [4], endeLayerChoices: [1, 2] });
    expect(campaignArchs(one, 50, 1)).toHaveLength(2);
  });

  it("interrupted twice and a torn last line: resumes to N, no row lost or repeated", async () => {
    const out = join(dir, "resume.csv");
    const o = { space, samples: 12, out, seed: 3, protocol: { ...protocol, build: "test" }, device, log: () => {} };
    const r1 = await runCampaign({ ...o, measure: fakeMeasure(), stopAfter: 5 });
    expect([r1.measured, r1.complete]).toEqual([5, false]);
    const first5 = readFileSync(out, "utf8").trim().split("\n").slice(1);
    expect(first5).toHaveLength(5);
    const r2 = await runCampaign({ ...o, measure: fakeMeasure(), stopAfter: 3 });
    expect(r2.measured).toBe(8);
    const text8 = readFileSync(out, "utf8");
    appendFileSync(out, text8.trim().split("\n")[1].slice(0, 25)); // a kill in the middle of a write
    const r3 = await runCampaign({ ...o, measure: fakeMeasure() });
    expect(r3.complete).toBe(true);
    expect(r3.measured).toBe(12);
    const rows = readDataset(out).rows;
    expect(rows.map((r) => archKey(r.arch!))).toEqual(campaignArchs(space, 12, 3).map(archKey)); // in order, once each
    // every row measured before the interruptions is still there, with its values (the stand-in
    // is slower on every call, so a re-measurement keeps the first measurement)
    const final = readFileSync(out, "utf8");
    for (const line of text8.trim().split("\n").slice(1)) expect(final).toContain(line.split(",").slice(0, 14).join(","));
    // the re-measure pass: the first 3 rows of each of the 3 processes, re-measured once (the
    // stand-in is slower on every call, so the first measurement is kept and the new total recorded)
    expect(r3.remeasured).toBe(9);
    expect(rows.filter((r) => r.pass === 1)).toHaveLength(9);
    expect(rows.filter((r) => r.pass === 1).every((r) => r.replaced_total_ms! > r.encoder_ms + r.decoder_ms)).toBe(true);
    // nothing left to do
    const r4 = await runCampaign({ ...o, measure: fakeMeasure() });
    expect([r4.newRows, r4.complete]).toEqual([0, true]);
  });

  it("a resumed campaign with nothing new to measure re-judges only the warm-up rows, not the same noisy values", async () => {
    const out = join(dir, "rejudge.csv");
    const o = { space, samples: 10, out, seed: 4, protocol: { ...protocol, build: "test" }, device, log: () => {} };
    // the 6th architecture measured with a run-to-run spread of 50 % (reason (b) of the re-measure pass)
    const spready = (): Measure => {
      const m = fakeMeasure();
      let calls = 0;
      return (a, p) => {
        const r = m(a, p);
        return ++calls === 7 ? { ...r, encoder_std_ms: 0.5 * r.encoder_ms } : r; // call 1 is the warm-up
      };
    };
    const r1 = await runCampaign({ ...o, measure: spready(), remeasure: false });
    expect([r1.complete, r1.remeasured]).toEqual([true, 0]);
    const r2 = await runCampaign({ ...o, measure: fakeMeasure() });
    expect(r2.remeasured).toBe(3); // the first process's first 3 rows; the spread row was r1's to judge
    const rows = readDataset(out).rows;
    expect(rows.filter((r) => r.pass === 1).map((r) => r.seq)).toEqual([0, 1, 2]);
  });

  it("rounds: every architecture measured K times, interrupted mid-round and resumed; the fastest kept", async () => {
    const out = join(dir, "rounds.csv");
    // a machine busy in waves: each call is slower or faster by turns
    const wave = (): Measure => {
      let calls = 0;
      return (a) => {
        const f = 1 + 0.5 * (calls++ % 3 === 1 ? 1 : 0);
        return { encoder_ms: a.encoderEmbedDim * f, decoder_ms: a.decoderEmbedDim * a.decoderLayers * f, encoder_std_ms: 0, decoder_std_ms: 0 };
      };
    };
    const o = { space, samples: 10, out, seed: 5, protocol: { ...protocol, build: "test", rounds: 3 }, device, remeasure: false, log: () => {} };
    const r1 = await runCampaign({ ...o, measure: wave(), stopAfter: 16 }); // all of round 1, part of round 2
    expect(r1.complete).toBe(false);
    const r2 = await runCampaign({ ...o, measure: wave() });
    expect(r2).toMatchObject({ complete: true, measured: 10, newRows: 14 });
    const rows = readDataset(out).rows;
    expect(rows.map((r) => archKey(r.arch!))).toEqual(campaignArchs(space, 10, 5).map(archKey));
    expect(rows.every((r) => r.pass === 2)).toBe(true);
    // with 3 measurements in a 1-slow-in-3 pattern, none kept a slow one
    expect(rows.every((r) => r.encoder_ms === r.arch!.encoderEmbedDim)).toBe(true);
  });

  it("refuses to mix devices, protocols or spaces in one file", async () => {
    const out = join(dir, "mix.csv");
    const o = { space, samples: 4, out, protocol: { ...protocol, build: "test" }, device, log: () => {} };
    await runCampaign({ ...o, measure: fakeMeasure() });
    await expect(runCampaign({ ...o, measure: fakeMeasure(), device: { ...device, cpu: "Other CPU" } })).rejects.toThrow(/measured on Test CPU x2.*use another --out/);
    await expect(runCampaign({ ...o, measure: fakeMeasure(), protocol: { ...protocol, runs: 5 } })).rejects.toThrow(/"runs":3.*this campaign uses/);
    await expect(runCampaign({ ...o, measure: fakeMeasure(), space: validateSpace({ ...space, encoderEmbedChoices: [24] }) })).rejects.toThrow(/not in this campaign's space/);
    writeFileSync(join(dir, "hat.csv"), readFileSync(out, "utf8").split("\n").map((l) => l.split(",").slice(0, 14).join(",")).join("\n"));
    await expect(runCampaign({ ...o, out: join(dir, "hat.csv"), measure: fakeMeasure() })).rejects.toThrow(/without this project's campaign columns/);
  });

  it("measures in the wasm runtime; a SIGKILL mid-campaign loses nothing and the same command finishes it", async () => {
    const spaceFile = join(dir, "space.json");
    writeFileSync(spaceFile, JSON.stringify(space));
    const out = join(dir, "killed.csv");
    const args = ["--space", spaceFile, "--samples", "40", "--out", out, "--runs", "40", "--warmup", "1", "--vocab", "3000", "--src-len", "8", "--tgt-len", "8", "--beam", "2"];
    // the same wasm build as this process (vitest runs node with relaxed SIMD on), or the resume would refuse the file
    const child = spawn(process.execPath, ["--experimental-wasm-relaxed-simd", "--import", "tsx", join(repoRoot, "cli/dev.ts"), "profile-campaign", ...args], { cwd: repoRoot, stdio: "ignore" });
    const lines = () => (existsSync(out) ? readFileSync(out, "utf8").split("\n").length - 2 : 0);
    const t0 = Date.now();
    while (lines() < 4 && Date.now() - t0 < 60_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    const before = readFileSync(out, "utf8");
    const nBefore = before.split("\n").filter((l, i) => i > 0 && l.includes("De=")).length;
    expect(nBefore).toBeGreaterThanOrEqual(4);
    expect(nBefore).toBeLessThan(40); // it really was interrupted
    const r = await hat("profile-campaign", ...args, "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out.trim().split("\n").pop()!);
    expect(j).toMatchObject({ measured: 40, target: 40, complete: true });
    const rows = readDataset(out).rows;
    expect(new Set(rows.map((x) => archKey(x.arch!))).size).toBe(40);
    expect(rows).toHaveLength(40);
    expect(rows[0].protocol!.build).toMatch(/hat(-relaxed)?\.wasm/);
    expect(rows.every((x) => x.encoder_ms > 0 && x.decoder_ms > 0 && x.protocol!.runs === 40)).toBe(true);
    // the rows written before the kill are all still there (re-measured ones hold the faster of the two)
    const keys = before.split("\n").slice(1).filter((l) => l.includes("De=")).map((l) => l.slice(l.lastIndexOf(",") + 1));
    for (const k of keys) expect(rows.some((x) => archToCell(x.arch!) === k)).toBe(true);
  });
});

describe("campaigns at int8 (the protocol's quant)", () => {
  it("every measurement gets quant int8, the rows and the file say so, and an f32 campaign refuses to resume the file", async () => {
    const out = join(dir, "int8.csv");
    const seen: string[] = [];
    const fake = fakeMeasure();
    const measure: Measure = (a, p) => { seen.push(p.quant); return fake(a, p); };
    const o = { space, samples: 4, out, device, remeasure: false, log: () => {} };
    const r = await runCampaign({ ...o, measure, protocol: { ...protocol, build: "test", quant: "int8" } });
    expect(r.complete).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(new Set(seen)).toEqual(new Set(["int8"])); // the warm-up too
    const text = readFileSync(out, "utf8").trim().split("\n");
    const col = text[0].split(",").indexOf("quant");
    expect(col).toBeGreaterThan(13); // one of our columns, after HAT's 14
    expect(text.slice(1).every((l) => l.split(",")[col] === "int8")).toBe(true);
    expect(readDataset(out).rows.every((x) => x.protocol!.quant === "int8")).toBe(true);
    await expect(runCampaign({ ...o, measure: fakeMeasure(), protocol: { ...protocol, build: "test" } })).rejects.toThrow(/quant int8 vs f32/);
  });

  it("hat profile-campaign --quant int8 measures int8 products in the wasm runtime; --quant bad is a usage error naming the flag", async () => {
    const spaceFile = join(dir, "space-int8.json");
    writeFileSync(spaceFile, JSON.stringify(space));
    const out = join(dir, "int8-cli.csv");
    const args = ["--space", spaceFile, "--samples", "2", "--out", out, "--runs", "2", "--warmup", "0", "--vocab", "64", "--src-len", "2", "--tgt-len", "2", "--beam", "1", "--no-steady", "--no-remeasure"];
    const r = await hat("profile-campaign", ...args, "--quant", "int8", "--json");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/1 thread, int8/); // the protocol line
    const rows = readDataset(out).rows;
    expect(rows).toHaveLength(2);
    expect(rows.every((x) => x.protocol!.quant === "int8" && x.decoder_ms > 0)).toBe(true);
    const bad = await hat("profile-campaign", ...args, "--quant", "int4");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--quant must be one of f32, int8, linear8, kmeans8, kmeans4, got 'int4'/);
  });

  it("hat profile-campaign --quant kmeans4: the rows record the form they measured", async () => {
    const spaceFile = join(dir, "space-k4.json");
    writeFileSync(spaceFile, JSON.stringify(space));
    const out = join(dir, "k4-cli.csv");
    const r = await hat("profile-campaign", "--space", spaceFile, "--samples", "2", "--out", out, "--runs", "2", "--warmup", "0", "--vocab", "64", "--src-len", "2", "--tgt-len", "2", "--beam", "1", "--no-steady", "--no-remeasure", "--quant", "kmeans4", "--json");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/1 thread, kmeans4/);
    const text = readFileSync(out, "utf8").trim().split("\n"), col = text[0].split(",").indexOf("quant");
    expect(text.slice(1).every((l) => l.split(",")[col] === "kmeans4")).toBe(true);
    expect(readDataset(out).rows.every((x) => x.protocol!.quant === "kmeans4" && x.decoder_ms > 0)).toBe(true);
  });
});

describe("campaigns on threads (the protocol's threads)", () => {
  it("hat profile-campaign --threads 2 measures in the threaded build; the rows say threads 2 and its build; --threads 0 is a usage error", async () => {
    const spaceFile = join(dir, "space-threads.json");
    writeFileSync(spaceFile, JSON.stringify(space));
    const out = join(dir, "threads-cli.csv");
    const args = ["--space", spaceFile, "--samples", "2", "--out", out, "--runs", "2", "--warmup", "0", "--vocab", "64", "--src-len", "2", "--tgt-len", "2", "--beam", "1", "--no-remeasure"];
    const r = await hat("profile-campaign", ...args, "--threads", "2", "--json");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/2 threads, f32/);
    const rows = readDataset(out).rows;
    expect(rows).toHaveLength(2);
    expect(rows.every((x) => x.protocol!.threads === 2 && /^hat-threads/.test(x.protocol!.build!) && x.decoder_ms > 0)).toBe(true);
    const bad = await hat("profile-campaign", ...args, "--threads", "0");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--threads must be an integer in 1\.\.16, got '0'/);
  });
});

describe("steady campaigns (runtime/steady.ts)", () => {
  it("rows carry the speed; a slow spell of the reference re-measures (bounded); the file says so", async () => {
    const out = join(dir, "steady.csv");
    // the reference: 1 ms, except 2 ms for the 9th-11th timings (a slow spell at the 5th measurement)
    let refs = 0;
    const reference = () => (++refs >= 9 && refs <= 11 ? 2 : 1);
    let measures = 0;
    const fake = fakeMeasure();
    const measure: Measure = (a, p) => { measures++; return fake(a, p); };
    const pauses: number[] = [];
    const r = await runCampaign({ space, samples: 5, out, protocol, device, measure, reference, sleep: async (ms) => { pauses.push(ms); }, remeasure: false });
    expect(r.complete).toBe(true);
    // primed with timings 1-4; each measurement's "before" is the last timing (just taken), its "after" the next: rows 1-4 after 5-8;
    // row 5 after 9 (2 ms): (1 + 2) / 2 / median(1 x8, 2) = 1.5 -> again: 10, 11 (2, 2) -> 2 -> again: 12, 13 -> 1, kept
    expect(r.slow_remeasured).toBe(2);
    expect(pauses).toEqual([500, 500]);
    expect(measures).toBe(1 + 5 + 2); // the warm-up, 5 rows, 2 re-measurements
    expect(r.speed_max).toBe(1);
    const rows = readDataset(out).rows;
    expect(rows.map((x) => x.speed)).toEqual([1, 1, 1, 1, 1]);
    expect(rows.every((x) => x.ref_ms === 1)).toBe(true);
    // without a reference, an injected measurement is not framed: no speed columns filled
    const plain = join(dir, "plain.csv");
    const p2 = await runCampaign({ space, samples: 3, out: plain, protocol, device, measure: fakeMeasure(), remeasure: false });
    expect(p2.slow_remeasured).toBe(0);
    expect(p2.speed_median).toBeUndefined();
    expect(readDataset(plain).rows.every((x) => x.speed === undefined)).toBe(true);
  });
});
