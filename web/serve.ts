/**
 * `hat web --serve PORT`: the page's folder over plain http (a browser fetches the model only
 * over http(s), not from file://). Serves exactly the files `writeWebPage` writes (WEB_FILES),
 * GET and HEAD, nothing else: no listing, no path from the request ever reaches the file system.
 * Sent cross-origin isolated (COOP same-origin, COEP require-corp), so that a page written with
 * --threads may run the threaded runtime (SharedArrayBuffer).
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { WEB_FILES } from "./build.js";

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".hatm": "application/octet-stream" };

export interface ServingPage {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serve `dir` (a folder `writeWebPage` wrote) on `host:port` (port 0: any free port). */
export async function serveWebPage(dir: string, o: { port: number; host?: string }): Promise<ServingPage> {
  const host = o.host ?? "127.0.0.1";
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const name = path === "/" ? "index.html" : path.slice(1);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (!(WEB_FILES as readonly string[]).includes(name)) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(join(dir, name));
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream",
      "content-length": body.byteLength, "cache-control": "no-store", "x-content-type-options": "nosniff",
      // cross-origin isolated: the page may share wasm memory with its workers (the threaded runtime)
      "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(o.port, host, () => ok());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return { url: `http://${shown}:${port}/`, server, close: () => new Promise((ok) => {
    server.close(() => ok());
    server.closeAllConnections(); // a browser's keep-alive connections would hold close() for minutes
  }) };
}
