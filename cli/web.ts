/** `hat web`: write the static page that translates in the browser (web/build.ts); --serve: serve it (web/serve.ts). */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeWebPage } from "../web/build.js";
import { serveWebPage } from "../web/serve.js";
import { intFlag, optIntFlag, optNumFlag, requireFlag, threadsFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";

const HELP = `usage: hat web --model FILE --out DIR [--arch FILE] [--beam 4] [--lenpen 0.6] [--batch 32] [--runs 3]
               [--threads 1] [--serve PORT [--host 127.0.0.1]]

Writes a static page into DIR (index.html, hat-web.js, model.hatm) that loads the wasm runtime
and the model in the browser and translates as you type, showing each translation's latency.
Nothing leaves the page. A browser fetches the model over http only: --serve PORT serves DIR
until Ctrl-C (or serve DIR with any static server); opened from file://, the page asks for the
model file. Decoding flags as hat translate's; --runs: timed translations per shown latency.
--threads N: the page's worker splits the products over N threads (Web Workers sharing its
memory), where the page is cross-origin isolated (--serve sends the headers); else one.`;

export async function webCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" }, out: { type: "string" }, arch: { type: "string" }, beam: { type: "string" }, lenpen: { type: "string" },
      batch: { type: "string" }, runs: { type: "string" }, threads: { type: "string" }, serve: { type: "string" }, host: { type: "string" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(HELP); return; }
  const model = requireFlag(values, "model"), out = resolve(requireFlag(values, "out"));
  const port = values.serve !== undefined ? intFlag(values, "serve", 0, 0) : undefined;
  if (port !== undefined && port > 65535) throw new UsageError(`--serve must be a port <= 65535, got ${port}`);
  if (values.host !== undefined && port === undefined) throw new UsageError("--host needs --serve PORT");
  const page = await writeWebPage({
    model, out, arch: values.arch, beam: optIntFlag(values, "beam"), lenpen: optNumFlag(values, "lenpen"),
    batch: optIntFlag(values, "batch"), runs: optIntFlag(values, "runs"), threads: threadsFlag(values),
  });
  io.out(`hat web: wrote ${page.files.map((f) => `${f.name} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(", ")} to ${out} (wasm: ${page.builds.join(", ")})`);
  if (port === undefined) {
    io.out(`serve it (a browser fetches the model over http only): hat web --model ${model} --out ${out} --serve 8080, or npx serve ${out}`);
    return;
  }
  const s = await serveWebPage(out, { port, host: values.host });
  io.out(`hat web: serving ${out} on ${s.url} (Ctrl-C stops)`);
  await new Promise<void>((done) => {
    const on = () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      done();
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
  await s.close();
}
