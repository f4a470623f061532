import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "runtime/**/*.test.ts", "server/**/*.test.ts", "agent/**/*.test.ts", "cli/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // lets the tests also load the optional relaxed-SIMD build (build/hat-relaxed.wasm) on Node 20
    execArgv: ["--experimental-wasm-relaxed-simd"],
  },
});
