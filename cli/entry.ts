/**
 * The `hat` CLI as a process of its own: what the server's jobs spawn (server/jobs/hat-child.ts),
 * from the sources through tsx or compiled as dist/cli/entry.js. Same as bin/hat.js, minus the
 * check for dist/.
 */
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
