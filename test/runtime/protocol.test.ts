/** runtime/protocol.ts: the schema (round trip, strictness, ranges), defaults, older shapes, protocolDiff. */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PROTOCOL, DEPLOYMENT_PROTOCOL, describeDiff, FleetProtocolRequest, Protocol, PROTOCOL_FIELDS, ProtocolError, protocolDiff,
  protocolLine, protocolOf, readProtocol, sameProtocol, UNRECORDED_DEFAULTS,
} from "../../runtime/protocol.js";
import { InputError } from "../../runtime/errors.js";

describe("the measurement protocol", () => {
  it("the defaults are HAT's protocol, one round, and pass the schema; JSON round-trips it unchanged", () => {
    expect(DEFAULT_PROTOCOL).toEqual({ runs: 300, warmup: 5, vocab: 32768, src_len: 30, tgt_len: 30, beam: 5, trim: 0.1, rounds: 1, keep: "fastest", threads: 1, quant: "f32" });
    expect(DEPLOYMENT_PROTOCOL).toEqual({ ...DEFAULT_PROTOCOL, rounds: 2 });
    for (const p of [DEFAULT_PROTOCOL, { ...DEFAULT_PROTOCOL, build: "hat-relaxed.wasm", rounds: 3, trim: 0.2 }, { ...DEFAULT_PROTOCOL, quant: "int8" as const }]) {
      const back = Protocol.parse(JSON.parse(JSON.stringify(p)));
      expect(back).toEqual(p);
      expect(sameProtocol(back, p)).toBe(true);
    }
    expect(PROTOCOL_FIELDS).toEqual(["runs", "warmup", "vocab", "src_len", "tgt_len", "beam", "trim", "rounds", "keep", "threads", "quant", "build"]);
  });

  it("protocolOf: the given fields over the defaults, checked; errors name the field and are input errors", () => {
    expect(protocolOf({ runs: 3, vocab: 64 })).toEqual({ ...DEFAULT_PROTOCOL, runs: 3, vocab: 64 });
    expect(protocolOf({ vocab: 300 }, DEPLOYMENT_PROTOCOL).rounds).toBe(2);
    const bad: [object, RegExp][] = [
      [{ runs: 0 }, /^runs: /], [{ warmup: 1.5 }, /^warmup: /], [{ vocab: 4 }, /^vocab: /], [{ beam: 65 }, /^beam: /],
      [{ trim: 0.5 }, /^trim: /], [{ rounds: 21 }, /^rounds: /], [{ keep: "median" }, /^keep: /], [{ threads: 17 }, /^threads: /], [{ threads: 1.5 }, /^threads: /],
      [{ quant: "int4" }, /^quant: /], [{ quant: "INT8" }, /^quant: /], [{ quant: null }, /^quant: /],
      [{ runs: "300" }, /^runs: /], [{ src: 30 }, /Unrecognized key/],
    ];
    for (const [given, re] of bad) {
      expect(() => protocolOf(given as never), JSON.stringify(given)).toThrow(ProtocolError);
      expect(() => protocolOf(given as never)).toThrow(re);
    }
    expect(new ProtocolError("x")).toBeInstanceOf(InputError);
    // the fleet's requests may not name a build: each agent measures with its own
    expect(FleetProtocolRequest.safeParse({ runs: 5, build: "hat.wasm" }).success).toBe(false);
    expect(FleetProtocolRequest.safeParse({ runs: 5 }).success).toBe(true);
    expect(FleetProtocolRequest.safeParse({ quant: "int8" }).success).toBe(true); // a campaign at int8
  });

  it("readProtocol: an older shape (the six numbers) reads with the unrecorded fields as they were measured", () => {
    const old = { runs: 300, warmup: 5, vocab: 1000, src_len: 30, tgt_len: 30, beam: 5 };
    expect(readProtocol(old)).toEqual({ ...old, ...UNRECORDED_DEFAULTS });
    expect(readProtocol(old, { rounds: 2, build: "hat.wasm" })).toEqual({ ...old, ...UNRECORDED_DEFAULTS, rounds: 2, build: "hat.wasm" });
    expect(readProtocol(old).quant).toBe("f32"); // measured before int8 products existed
    expect(readProtocol({ ...old, quant: "int8" }).quant).toBe("int8");
    expect(() => readProtocol({ ...old, quant: "int4" })).toThrow(/^quant: /);
    // what a file says wins over the fill-ins
    expect(readProtocol({ ...old, rounds: 3 }, { rounds: 2 }).rounds).toBe(3);
    // the six numbers must be there
    expect(() => readProtocol({ runs: 300 })).toThrow(/^warmup: /);
    expect(() => readProtocol("300 runs")).toThrow(ProtocolError);
  });

  it("protocolDiff names the fields that differ; a build on one side only differs", () => {
    const a = protocolOf({ build: "hat.wasm" });
    expect(protocolDiff(a, a)).toEqual([]);
    expect(protocolDiff(a, { ...a, runs: 100, rounds: 3 })).toEqual(["runs", "rounds"]);
    expect(protocolDiff(a, DEFAULT_PROTOCOL)).toEqual(["build"]);
    expect(sameProtocol(a, { ...a })).toBe(true);
    expect(sameProtocol(a, { ...a, trim: 0.2 })).toBe(false);
    expect(describeDiff(a, { ...DEFAULT_PROTOCOL, runs: 100 })).toBe("runs 300 vs 100, build hat.wasm vs (none)");
    expect(protocolLine(a)).toBe("300 runs after 5 warm-up (trimmed mean, 10 % each end), fastest of 1 round; vocab 32768, src 30, tgt 30, beam 5; 1 thread, f32, hat.wasm");
    // the products measured are part of what is compared
    const q = { ...a, quant: "int8" as const };
    expect(protocolDiff(a, q)).toEqual(["quant"]);
    expect(sameProtocol(a, q)).toBe(false);
    expect(describeDiff(a, q)).toBe("quant f32 vs int8");
    expect(protocolLine(q)).toMatch(/; 1 thread, int8, hat\.wasm$/);
  });
});
