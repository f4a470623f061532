/** `hat serve`: the search server (server/app.ts). Being written (issue 6). */
import type { Io } from "./main.js";

export async function serveCommand(_argv: string[], _io: Io): Promise<void> {
  throw new Error("hat serve: not written yet");
}
