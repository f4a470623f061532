/**
 * How to start this `hat` CLI as another process: compiled (dist/cli/entry.js), or from the
 * TypeScript sources through tsx's loader given by absolute URL (tests, `node --import tsx`), so
 * the child works whatever its cwd. Used by the server's jobs, `hat demo` (its agent) and the tests.
 */
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** [node, ...args] that run `hat`; append the command's own argv. */
export function hatCommandLine(): string[] {
  const fromSources = import.meta.url.endsWith(".ts");
  const entry = fileURLToPath(new URL(fromSources ? "./entry.ts" : "./entry.js", import.meta.url));
  return fromSources ? [process.execPath, "--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href, entry] : [process.execPath, entry];
}
