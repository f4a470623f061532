import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { archParams } from "../../runtime/arch-features.js";
import { sampleArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { DEFAULT_PROTOCOL } from "../../runtime/protocol.js";
import { evolutionSearch } from "../../search/evolution.js";
import { CachedLoss } from "../../search/fitness.js";
import { nsga2Search } from "../../search/nsga2.js";
import { SearchProblem } from "../../search/problem.js";
import { randomSearch } from "../../search/random.js";
import { renderReport, runRecord, type SearchRecord } from "../../search/report.js";
import { ticks } from "../../search/svg.js";
import { rng } from "../helpers.js";
import { distanceLoss, FlopsLatency } from "./synthetic.js";

const space = DEMO_SPACE;
const lat = new FlopsLatency(10, 1000);
const target = sampleArch(space, rng(2));
const maxMs = lat.predict([target])[0] * 1.1;
const loss = new CachedLoss(distanceLoss(space, target));
const o = { seed: 1, generations: 6, population: 30, parents: 8, mutations: 10, crossovers: 10 };
const evo = evolutionSearch(new SearchProblem(space, [{ name: "stand-in <cpu>", model: lat, maxMs }], loss), o);
const rnd = randomSearch(new SearchProblem(space, [{ name: "stand-in <cpu>", model: lat, maxMs }], loss), { budget: evo.evaluations, seed: 1, batch: 30 });
const par = nsga2Search(new SearchProblem(space, [{ name: "stand-in <cpu>", model: lat, maxMs }, { name: "pi", model: new FlopsLatency(1, 1000) }], loss), o);
const measured = Array.from({ length: 40 }, (_, i) => 1 + i * 0.5);
const record: SearchRecord = {
  version: 1, createdAt: "2026-01-01T00:00:00Z", supernet: "demo.hatm", space,
  devices: [{ name: "stand-in <cpu>", maxMs }, { name: "pi" }], settings: o,
  evolution: runRecord(evo), random: runRecord(rnd), nsga2: runRecord(par),
  winner: {
    arch: evo.best.arch, validLoss: evo.best.loss, predictedMs: evo.best.latency, params: archParams(evo.best.arch, 1000),
    measured: { device: "stand-in <cpu>", totalMs: maxMs * 1.2, encoderMs: 1, decoderMs: maxMs * 1.2 - 1, protocol: { ...DEFAULT_PROTOCOL, vocab: 1000, build: "hat.wasm" }, overConstraint: true, load1: 4.5, cores: 2 },
  },
  predictorTests: [{ device: "stand-in <cpu>", measured, predicted: measured.map((m, i) => m * (1 + ((i % 5) - 2) / 50)) }],
  wallSeconds: 12.5,
};
const html = renderReport(record);

describe("search report", () => {
  it("is one self-contained HTML page with inline SVG plots", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/https?:\/\//); // nothing fetched, not even a namespace URL
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    // loss/latency per device (2), progress, predictor
    expect(html.match(/<svg/g)).toHaveLength(4);
    expect(html).toContain("Pareto front");
    expect(html).toContain("stand-in &lt;cpu&gt;"); // escaped
    expect(html).toMatch(/OVER THE CONSTRAINT/); // a winner over its constraint is flagged, not hidden
    expect(html).toMatch(/measured on a busy machine \(load 4\.5 on 2 cores\)/);
    expect(html).toMatch(/constraint \d/);
  });

  it("shows every candidate the closed loop measured, predicted beside measured, and the verdict", () => {
    const c = (round: number, loss: number, pred: number, meas: number, speed?: number) => ({ arch: evo.best.arch, round, validLoss: loss, predictedMs: pred, measuredMs: meas, meets: meas <= 2, speed });
    const verification = { device: "stand-in <cpu>", where: "the agents of class pi4", maxMs: 2, k: 2, rounds: 2, targets: [2, 1.6], stopped: "2 round(s) run", candidates: [c(0, 1.1, 1.9, 2.5, 1.3), c(0, 1.2, 1.8, 2.2), c(1, 1.3, 1.5, 1.9)] };
    const met = renderReport({ ...record, verification: { ...verification, verdict: "meets", winner: 2 } });
    expect(met).toContain("Candidates measured before the winner was declared");
    expect(met).toMatch(/<td>1<\/td><td>1\.1000<\/td><td>1\.900 ms<\/td><td>2\.500 ms <span class="warn">over<\/span><\/td><td>-24\.0 %<\/td><td>1\.30: 1\.923 ms at the usual speed<\/td>/);
    expect(met).toMatch(/<td>2<\/td><td>1\.3000<\/td><td>1\.500 ms<\/td><td>1\.900 ms<\/td><td>-21\.1 %<\/td><td><\/td><td><b>winner<\/b>/);
    expect(met).toContain("the winner's measured latency meets the constraint");
    expect(met).toContain("search constraint per round: 2.000 ms, 1.600 ms");
    const none = renderReport({ ...record, verification: { ...verification, candidates: verification.candidates.slice(0, 2), verdict: "none_met", winner: 1 } });
    expect(none).toMatch(/class="warn">NO CANDIDATE MET THE CONSTRAINT/);
  });

  it("ticks are round and cover the range", () => {
    expect(ticks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(3.7, 9.1)[0]).toBeGreaterThanOrEqual(3.7);
  });

  const chromium = spawnSync("chromium", ["--version"], { encoding: "utf8" });
  const hasChromium = chromium.status === 0;
  if (!hasChromium) console.warn("report render check skipped: no `chromium` on this machine (Debian: apt-get install chromium)");
  it.skipIf(!hasChromium)("renders in headless Chromium", () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-report-"));
    const file = join(dir, "report.html"), png = join(dir, "report.png");
    writeFileSync(file, html);
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${join(dir, "profile")}`];
    const dom = execFileSync("chromium", [...flags, "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] });
    expect(dom.match(/<svg/g)).toHaveLength(4);
    expect(dom).toContain("<circle");
    execFileSync("chromium", [...flags, `--screenshot=${png}`, "--window-size=1100,2400", `file://${file}`], { timeout: 60_000, stdio: "ignore" });
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe("PNG");
    expect(statSync(png).size).toBeGreaterThan(20_000); // drawn, not a blank page
    rmSync(dir, { recursive: true, force: true });
  });
});
