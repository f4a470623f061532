/** `hat --version`: the version in the package's own package.json (beside cli/ in a checkout, beside dist/ when built). */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function packageVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "hat-edge" && pkg.version) return pkg.version;
  }
  return "unknown";
}
