/**
 * `hat study all` on the tiny study fixture (test/search/study-fixture.ts): the proxy check, the
 * latency study at its three default constraints (each model a fine-tuning, ~1 s each, hence
 * slow) and the evolution study, in one record and one report with every plot.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { largestArch } from "../../runtime/arch-sample.js";
import { hat } from "../cli/hat.js";
import { studyFixture } from "../search/study-fixture.js";

const fx = studyFixture("hat-study-all-");
afterAll(() => rmSync(fx.dir, { recursive: true, force: true }));

describe("hat study all", () => {
  it("runs the three studies at the default constraints: one record, one report with five plots", async () => {
    const report = join(fx.dir, "all.html"), record = join(fx.dir, "all.json");
    const r = await hat("study", "all", "--supernet", fx.supernet, "--predictor", fx.predictorFile, ...fx.files, ...fx.small,
      "--finetune-steps", "1", "--archs", "3", "--seeds", "1", "--bleu-max", "4", "--measure-runs", "2", "--report", report, "--record", record, "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j).sort()).toEqual(["evolution", "latency", "proxy"]);
    expect(j.proxy.rows.length).toBe(3);
    // three default constraints inside the range the space reaches, increasing; the evolution study at the middle one
    const c = j.latency.constraints_ms, top = fx.predictor.predict([largestArch(fx.space)])[0];
    expect(c.length).toBe(3);
    expect(c[0]).toBeLessThan(c[1]);
    expect(c[1]).toBeLessThan(c[2]);
    expect(c[2]).toBeLessThan(top);
    expect(j.evolution.constraint_ms).toBe(c[1]);
    const searched = j.latency.models.filter((m: { roles: string[] }) => m.roles.includes("searched"));
    expect(searched.flatMap((m: { searched_at_ms: number[] }) => m.searched_at_ms).sort()).toEqual([...c].sort());
    expect(JSON.parse(readFileSync(record, "utf8"))).toEqual(j);
    expect((readFileSync(report, "utf8").match(/<svg/g) ?? []).length).toBe(5); // proxy 2, latency 2, evolution 1
  });
});
