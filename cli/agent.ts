/** `hat agent`: the edge agent (agent/). Being written (issue 6). */
import type { Io } from "./main.js";

export async function agentCommand(_argv: string[], _io: Io): Promise<void> {
  throw new Error("hat agent: not written yet");
}
