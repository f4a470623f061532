/**
 * The layering of the source folders, checked on the real import graph (madge, type-only imports
 * included): no import cycle, and each folder imports only the folders below it:
 *
 *   runtime (the wasm host)  <-  data, train  <-  latency  <-  search  <-  server, agent  <-  cli
 *   runtime, data  <-  web (the browser page and hat web)  <-  cli
 *
 * The agent stays off train/ and search/ (its single executable must not bundle tfjs), and nothing
 * imports cli/: the CLI is a shell over the libraries, never a library itself.
 */
import madge from "madge";
import { describe, expect, it } from "vitest";

const FOLDERS = ["runtime", "data", "train", "latency", "search", "server", "agent", "web", "bench", "cli"] as const;
type Folder = (typeof FOLDERS)[number];

/** The folders each folder may import besides itself (assembly/: the descriptor layout shared with the wasm). */
const MAY_IMPORT: Record<Folder, readonly string[]> = {
  runtime: ["assembly"],
  data: ["runtime"],
  train: ["runtime", "data"],
  latency: ["runtime", "data", "train"],
  search: ["runtime", "data", "train", "latency"],
  server: ["runtime", "data", "train", "latency", "search"],
  agent: ["runtime", "data", "latency"],
  web: ["runtime", "data"], // the page (browser) and hat web's writer
  bench: ["runtime", "data", "train", "latency", "search", "server", "agent", "assembly"], // fleet-load runs the server and the agent's client
  cli: ["runtime", "data", "train", "latency", "search", "server", "agent", "web"],
};

async function graph(): Promise<{ deps: Record<string, string[]>; cycles: string[][] }> {
  const r = await madge([...FOLDERS], { fileExtensions: ["ts"], tsConfig: "tsconfig.json" });
  return { deps: r.obj(), cycles: r.circular() };
}

describe("source layout", () => {
  it("has no import cycle and each folder imports only the layers below it", async () => {
    const { deps, cycles } = await graph();
    expect(Object.keys(deps).length).toBeGreaterThan(100); // the graph was really read
    expect(cycles.map((c) => c.join(" > "))).toEqual([]);
    const wrong: string[] = [];
    for (const [file, imports] of Object.entries(deps)) {
      const from = file.split("/")[0] as Folder;
      for (const dep of imports) {
        const to = dep.split("/")[0];
        if (to !== from && !MAY_IMPORT[from]?.includes(to)) wrong.push(`${file} imports ${dep}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
