/**
 * build/hat-component.wasm for the component tests: built (`npm run build:component`) when it is
 * missing or older than its sources (the kernels, the glue, the WIT), one test process at a time
 * (a lock directory), so `npm test` builds it and two test files never write it at once.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../helpers.js";

export const COMPONENT = join(repoRoot, "build", "hat-component.wasm");

function sourcesMtime(): number {
  let t = 0;
  for (const dir of ["assembly", "assembly/component", "wit", "wit/deps/clocks", "wit/deps/filesystem"]) {
    for (const f of readdirSync(join(repoRoot, dir))) {
      const p = join(repoRoot, dir, f);
      if (statSync(p).isFile()) t = Math.max(t, statSync(p).mtimeMs);
    }
  }
  t = Math.max(t, statSync(join(repoRoot, "asconfig.json")).mtimeMs);
  return t;
}

const fresh = () => existsSync(COMPONENT) && statSync(COMPONENT).mtimeMs >= sourcesMtime();

export async function ensureComponent(): Promise<void> {
  if (fresh()) return;
  mkdirSync(join(repoRoot, "build"), { recursive: true });
  const lock = join(repoRoot, "build", ".component-build.lock");
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 180_000) throw new Error(`${lock} held for 3 minutes: remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!fresh()) execFileSync("npm", ["run", "--silent", "build:component"], { cwd: repoRoot, stdio: "pipe" });
  } finally {
    rmdirSync(lock);
  }
}
