#!/usr/bin/env node
// The `hat` command: runs the compiled CLI (dist/, made by `npm run build`; an installed package ships it).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("hat: dist/ is missing; run `npm run build` first\n");
  process.exit(1);
}
const { exitQuietlyOnClosedOutput } = await import(new URL("../dist/cli/io.js", import.meta.url).href);
exitQuietlyOnClosedOutput(); // `hat ... | head -1`: a closed pipe ends hat quietly
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
