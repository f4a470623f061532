/**
 * The `hat` CLI as a process of its own: what `hat demo` and the tests spawn (cli/self.ts),
 * from the sources through tsx or compiled as dist/cli/entry.js. Same as bin/hat.js, minus the
 * check for dist/.
 */
import { main } from "./main.js";
import { exitQuietlyOnClosedOutput } from "./io.js";

exitQuietlyOnClosedOutput();

// Spawned with an IPC channel: when the parent dies, end too (the job child, server/jobs/child-main.ts,
// does the same). unref: the channel alone must not keep this process alive.
if (process.channel) {
  process.on("disconnect", () => process.exit(130));
  process.channel.unref();
}

process.exitCode = await main(process.argv.slice(2));
