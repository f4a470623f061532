/**
 * How to start a module of this project as a process of its own: compiled (the .js beside the
 * caller in dist/), or from the TypeScript sources through tsx's loader given by absolute URL
 * (tests, `node --import tsx`), so the child works whatever its cwd. The `hat` CLI (cli/self.ts)
 * and the server's job child (server/jobs/child.ts) are started this way.
 */
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * [node, ...args] that run the module `name` (a path relative to `from`, without its extension;
 * `from` is the caller's import.meta.url): its .ts through tsx when the caller runs from sources,
 * its .js otherwise. Append the module's own argv.
 */
export function moduleCommandLine(from: string, name: string): string[] {
  const fromSources = from.endsWith(".ts");
  const entry = fileURLToPath(new URL(`${name}${fromSources ? ".ts" : ".js"}`, from));
  return fromSources ? [process.execPath, "--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href, entry] : [process.execPath, entry];
}
