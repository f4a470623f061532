/** Run the `hat` CLI in-process, capturing what it prints. */
import { main } from "../../cli/main.js";

export async function hat(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(argv, { out: (s) => { out += s + "\n"; }, err: (s) => { err += s + "\n"; } });
  return { code, out, err };
}
