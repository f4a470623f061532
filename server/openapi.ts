/**
 * The OpenAPI 3.1 document, served at GET /openapi.json. Each sub-app describes its routes here
 * with the same zod schemas it validates with, so the document cannot drift from the checks.
 */
import { z } from "zod";

export interface RouteDoc {
  method: "get" | "post" | "put" | "delete";
  path: string; // OpenAPI style: /v1/jobs/{id}
  summary: string;
  auth: "none" | "admin" | "agent" | "admin or agent" | "worker";
  body?: z.ZodType;
  query?: z.ZodType;
  /** The success status and a short description of what comes back. */
  ok?: { status: number; description: string; schema?: z.ZodType };
}

const routes: RouteDoc[] = [];

export function describe(doc: RouteDoc): void {
  if (!routes.some((r) => r.method === doc.method && r.path === doc.path)) routes.push(doc);
}

const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { unrepresentable: "any", io: "input" });

export function openApiDocument(version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of [...routes].sort((a, b) => a.path.localeCompare(b.path))) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    if (r.query) {
      const q = jsonSchema(r.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) params.push({ name, in: "query", required: (q.required ?? []).includes(name), schema } as never);
    }
    const ok = r.ok ?? { status: 200, description: "OK" };
    paths[r.path] ??= {};
    paths[r.path][r.method] = {
      summary: r.summary,
      security: r.auth === "none" ? [] : [{ bearer: [] }],
      "x-caller": r.auth,
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body) } } } } : {}),
      responses: {
        [ok.status]: { description: ok.description, ...(ok.schema ? { content: { "application/json": { schema: jsonSchema(ok.schema) } } } : {}) },
        "4XX": { description: "a client error: { error: { code, message } } (the message names the field)" },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "hat-edge server", version, description: "Hardware-aware Transformer search: datasets, SuperTransformer training, latency campaigns on agents, predictors, searches and deployments. docs/fleet.md walks through it." },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
