/**
 * The dashboard's routes: GET / is the page (server/ui/page.ts: one self-contained HTML file, no
 * token in it, no request to anywhere but this server), served without a token — the page asks
 * for the admin token and sends it as the bearer header to the /v1 API, keeping it in the tab's
 * sessionStorage only. And how an artifact is served: a search report is an HTML page, sent as
 * text/html under a sandboxing policy (no script, nothing fetched); anything else a download.
 */
import { Hono } from "hono";
import type { ArtifactInfo } from "../artifacts.js";
import { describe } from "../openapi.js";
import { DASHBOARD_CSP, DASHBOARD_HTML } from "./page.js";

/** What a report artifact may do when opened: show its inline styles and SVG, nothing else. */
export const REPORT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** The response headers of GET /v1/artifacts/{sha256} for this artifact. */
export function artifactHeaders(info: ArtifactInfo): Record<string, string> {
  const name = info.name.replace(/[^\w.-]/g, "_");
  const common = { "content-length": String(info.size), "x-sha256": info.sha256, "x-content-type-options": "nosniff" };
  if (info.kind === "report") {
    return { ...common, "content-type": "text/html; charset=utf-8", "content-security-policy": REPORT_CSP, "content-disposition": `inline; filename="${name}"` };
  }
  return { ...common, "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${name}"` };
}

export function uiApp(): Hono {
  const app = new Hono();
  const headers = {
    "content-type": "text/html; charset=utf-8", "content-security-policy": DASHBOARD_CSP, "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer", "x-frame-options": "DENY", "cache-control": "no-store",
  };
  describe({ method: "get", path: "/", auth: "none", summary: "the dashboard (HTML): sign in with the admin token; jobs, agents, deployments, reports", ok: { status: 200, description: "text/html" } });
  app.get("/", () => new Response(DASHBOARD_HTML, { headers }));
  // browsers ask for it; a 404 in their console is noise
  app.get("/favicon.ico", () => new Response(null, { status: 204 }));
  return app;
}
