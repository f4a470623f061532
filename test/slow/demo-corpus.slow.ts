/**
 * The main job on a user's corpus (issue 13, 7): `hat demo --src F --tgt F --valid-src F ... --test-tgt F` runs
 * the whole method on those files (a files dataset the local server reads, the recipe sized to the
 * budget, BLEU on the test split, translations of the test split's sentences through the agent),
 * not on the demo task. A tiny corpus and budget; minutes. Run with `npm run test:slow`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { demoTask } from "../../data/demo-task.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("hat demo on a corpus", () => {
  it("trains, measures, searches, deploys and translates the user's sentences", () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-demo-corpus-"));
    // a corpus in files: the demo task's languages, but not the built-in dataset (other seed and sizes)
    const t = demoTask({ seed: 11, train: 2000, valid: 60, test: 20 });
    const file = (name: string, lines: string[]) => { const p = join(dir, name); writeFileSync(p, lines.join("\n") + "\n"); return p; };
    const args = ["--src", file("train.src", t.train.src), "--tgt", file("train.tgt", t.train.tgt), "--valid-src", file("valid.src", t.valid.src), "--valid-tgt", file("valid.tgt", t.valid.tgt),
      "--test-src", file("test.src", t.test.src), "--test-tgt", file("test.tgt", t.test.tgt)];
    const out = execFileSync(process.execPath, [join(root, "bin/hat.js"), "demo", "--out", join(dir, "run"), ...args, "--space", "demo", "--minutes", "0.3",
      "--samples", "90", "--runs", "10", "--rounds", "1", "--generations", "3", "--finetune-minutes", "0.1", "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const r = JSON.parse(out.trim().split("\n").pop()!);
    expect(r.bleu).toBeGreaterThanOrEqual(0);
    expect(r.translations.map((x: { src: string }) => x.src)).toEqual(t.test.src.slice(0, 5)); // the user's test sentences, not the demo's
    expect(r.translations.map((x: { ref: string }) => x.ref)).toEqual(t.test.tgt.slice(0, 5));
    expect(r.train_updates).toBeGreaterThan(0);
    expect(["meets", "misses"]).toContain(r.verdict);
  });
});
