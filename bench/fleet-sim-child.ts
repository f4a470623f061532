/**
 * A child process of bench/fleet-load.ts running many simulated agents (bench/fleet-sim.ts):
 * the parent sends {type: "start", options} over IPC, later {type: "stop"}; the child answers
 * {type: "stats", stats} and exits.
 */
import { simulateAgents, type SimOptions } from "./fleet-sim.js";

type Start = { type: "start"; options: Omit<SimOptions, "signal"> };
type Stop = { type: "stop" };

if (!process.send) throw new Error("bench/fleet-sim-child.ts runs as a child of bench/fleet-load.ts (IPC)");
const stop = new AbortController();
process.on("message", (m: Start | Stop) => {
  if (m.type === "stop") stop.abort();
  if (m.type === "start") {
    simulateAgents({ ...m.options, signal: stop.signal }).then(
      (stats) => process.send!({ type: "stats", stats }, () => process.exit(0)),
      (e) => process.send!({ type: "error", message: (e as Error).stack ?? String(e) }, () => process.exit(1)),
    );
  }
});
process.on("disconnect", () => stop.abort()); // the parent went away
