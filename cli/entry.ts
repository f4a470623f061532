/**
 * The `hat` CLI as a process of its own: what the server's jobs spawn (server/jobs/hat-child.ts),
 * from the sources through tsx or compiled as dist/cli/entry.js. Same as bin/hat.js, minus the
 * check for dist/.
 */
import { main } from "./main.js";

// Spawned by the server with an IPC channel (server/jobs/hat-child.ts): when the server dies, end
// too, so a restarted server's re-run of the job is the only one writing its files. unref: the
// channel alone must not keep this process alive.
if (process.channel) {
  process.on("disconnect", () => process.exit(130));
  process.channel.unref();
}

process.exitCode = await main(process.argv.slice(2));
