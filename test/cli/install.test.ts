/**
 * A new user's install (issue 15, 9): the README's install and test commands are what .ci/run
 * runs, word for word, and .npmrc keeps onnxruntime-node (a benchmark peer) from downloading CUDA
 * libraries at `npm ci` through the setting its install script reads. (The install itself, in a
 * clean clone with only the npm registry: see the report of issue 15; `npm run test:slow` packs
 * and installs the package.)
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (f: string) => readFileSync(join(root, f), "utf8");

/** The commands of the README's "Install and test" sh block, comments dropped. */
function readmeCommands(): string[] {
  const section = read("README.md").split(/^## /m).find((s) => s.startsWith("Install and test"));
  expect(section, "README has an 'Install and test' section").toBeDefined();
  const block = /```sh\n([\s\S]*?)```/.exec(section!)![1];
  return block.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
}

describe("install", () => {
  it(".ci/run runs exactly the README's commands, in order, and sets nothing a user would not", () => {
    const ci = read(".ci/run").split("\n").map((l) => l.trim()).filter((l) => /^npm /.test(l) && l !== "npm --version");
    expect(ci).toEqual(readmeCommands());
    expect(readmeCommands()).toEqual(["npm ci", "npm run build", "npm run lint:cycles", "npm test"]);
    expect(read(".ci/run")).not.toMatch(/^\s*export /m);
  });

  it(".npmrc tells onnxruntime-node's install script to skip its CUDA download", () => {
    const npmrc = Object.fromEntries(read(".npmrc").split("\n").filter((l) => /^[^#;].*=/.test(l)).map((l) => l.split("=").map((x) => x.trim())));
    expect(npmrc["onnxruntime-node-install"]).toBe("skip");
    // npm passes a project .npmrc key k to install scripts as npm_config_<k with _>: what the script reads
    const script = join(root, "node_modules/onnxruntime-node/script/install-utils.js");
    if (!existsSync(script)) return; // onnxruntime-node not installed here (it is a devDependency)
    const { parseInstallFlag } = createRequire(import.meta.url)(script) as { parseInstallFlag: () => unknown };
    const saved = { ...process.env };
    try {
      delete process.env.ONNXRUNTIME_NODE_INSTALL;
      process.env.npm_config_onnxruntime_node_install = npmrc["onnxruntime-node-install"];
      expect(parseInstallFlag()).toBe(false); // false: skip the download
    } finally {
      process.env = saved;
    }
  });
});
