/**
 * `hat agent`: the edge agent (agent/). Enrols with a server (or reuses the identity kept in the
 * state directory), profiles the architectures it is leased, runs deployed models and serves
 * POST /translate. The first stdout line is `{"agent_id", "device_class", "translate_url"}`
 * (translate_url: the base URL, http://host:port, of POST /translate and GET /health);
 * logs are timestamped lines on stderr. SIGINT/SIGTERM stop it cleanly.
 *
 * It lives in agent/, not cli/, so the single executable (agent/sea) bundles the agent without the
 * rest of the CLI (training pulls in tfjs); cli/main.ts lists it as `hat agent`.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { Agent } from "./agent.js";
import { StoppedError } from "./client.js";
import { timestampedLog } from "./log.js";
import { defaultStateDir } from "./state.js";
import { DeviceClass } from "../runtime/fleet-protocol.js";
import { InputError } from "../runtime/errors.js";

/** Where the command writes: its first JSON line on `out`, logs on `err`. */
export interface AgentIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Bad usage (exit code 2). */
class AgentUsageError extends InputError {
  override name = "UsageError";
}

export const AGENT_USAGE = `usage: hat agent --server URL [--token ENROLMENT_TOKEN] [options]

  --server URL       the hat server (hat serve)
  --token T          a one-time enrolment token (POST /v1/enrolment-tokens); needed to enrol,
                     ignored when the state directory keeps an identity for this server
  --reenrol          enrol again with --token even so (after the agent was revoked)
  --name N           this agent's name (default: the host name)
  --class C          device class, when the enrolment token names none
  --state DIR        state directory (default ~/.hat-agent): identity, deployed models
  --host H           where POST /translate listens (default 127.0.0.1)
  --port P           its port (default 8787; 0 = any free port)
  --public-url URL   the base URL of /translate told to the server (default from host and port)
  --translate-token T  the bearer token POST /translate requires; 'none' for none. Default: none
                     on a loopback --host, else one made once and kept in DIR/translate-token
  --wait-s S         long-poll wait for work, seconds (default 20)
  --json             log lines on stderr as JSON objects

The first stdout line, once enrolled: {"agent_id", "device_class", "translate_url"[, "translate_token_file"]}
(translate_url = http://host:port: POST {translate_url}/translate, GET {translate_url}/health).`;

export interface AgentCommandExtras {
  /** The wasm runtime's bytes (the single executable's asset). */
  wasmBytes?: Uint8Array<ArrayBuffer>;
  build?: string;
  threadWasmBytes?: Uint8Array<ArrayBuffer>;
  threadBuild?: string;
  /** Stop when this aborts (tests); SIGINT and SIGTERM always stop the agent. */
  signal?: AbortSignal;
}

function intArg(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new AgentUsageError(`--${name} must be an integer in ${min}..${max}, got '${v}'`);
  return Number(v);
}

export async function agentCommand(argv: string[], io: AgentIo, extras: AgentCommandExtras = {}): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: "string" }, token: { type: "string" }, name: { type: "string" }, class: { type: "string" },
      state: { type: "string" }, host: { type: "string" }, port: { type: "string" }, "public-url": { type: "string" },
      "wait-s": { type: "string" }, "translate-token": { type: "string" }, json: { type: "boolean" }, reenrol: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    io.out(AGENT_USAGE);
    return;
  }
  if (!values.server) throw new AgentUsageError("--server is required");
  try {
    const u = new URL(values.server);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw new AgentUsageError(`--server must be an http(s) URL, got '${values.server}'`);
  }
  if (values.class !== undefined && !DeviceClass.safeParse(values.class).success) throw new AgentUsageError(`--class: a device class is 1-64 of a-z 0-9 . _ - starting with a letter or digit, got '${values.class}'`);
  const port = intArg(values.port, "port", 8787, 0, 65535);
  const waitS = intArg(values["wait-s"], "wait-s", 20, 1, 300);
  const log = timestampedLog(io.err, values.json);
  const tt = values["translate-token"];
  if (tt !== undefined && tt !== "none" && tt.length < 16) throw new AgentUsageError("--translate-token must be at least 16 characters (or 'none')");

  const agent = new Agent({
    server: values.server, enrolmentToken: values.token, reenrol: values.reenrol, name: values.name ?? hostname(), deviceClass: values.class,
    stateDir: values.state ?? defaultStateDir(), host: values.host ?? "127.0.0.1", port, publicUrl: values["public-url"],
    waitS, log, wasmBytes: extras.wasmBytes, build: extras.build, threadWasmBytes: extras.threadWasmBytes, threadBuild: extras.threadBuild,
    translateToken: tt === undefined ? undefined : tt === "none" ? false : tt,
  });
  const onSignal = (sig: string) => () => {
    log(`${sig}: stopping`);
    agent.stop();
  };
  const onInt = onSignal("SIGINT"), onTerm = onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  const onAbort = () => agent.stop();
  extras.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const enrolled = await agent.start();
    io.out(JSON.stringify(enrolled));
    await agent.run();
  } catch (e) {
    if (!(e instanceof StoppedError)) throw e; // stopped before enrolment finished
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    extras.signal?.removeEventListener("abort", onAbort);
    await agent.close();
  }
}
