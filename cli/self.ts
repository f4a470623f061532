/**
 * How to start this `hat` CLI as another process (runtime/node-entry.ts): compiled
 * (dist/cli/entry.js), or from the TypeScript sources through tsx. Used by `hat demo` (its
 * server and agent) and the tests.
 */
import { moduleCommandLine } from "../runtime/node-entry.js";

/** [node, ...args] that run `hat`; append the command's own argv. */
export function hatCommandLine(): string[] {
  return moduleCommandLine(import.meta.url, "./entry");
}
