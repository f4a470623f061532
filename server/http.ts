/**
 * HTTP errors and request validation for every sub-app. An ApiError carries a status, a stable
 * `code` and a message naming the offending field; `onApiError` turns it (and anything else) into
 * one JSON shape, `{ error: { code, message } }`. Client mistakes are 4xx; only our own bugs are 500.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { describeIssues } from "../runtime/schema-issues.js";

export class ApiError extends HTTPException {
  constructor(status: ContentfulStatusCode, readonly code: string, message: string) {
    super(status, { message });
    this.name = "ApiError";
  }
}

export const badRequest = (message: string, code = "bad_request") => new ApiError(400, code, message);
export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);
export const conflict = (message: string) => new ApiError(409, "conflict", message);

/** Check a value against a schema; a 400 naming the field otherwise. */
export function check<S extends z.ZodType>(schema: S, value: unknown, where = "body"): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ApiError(400, "invalid_" + where, describeIssues(r.error.issues));
  return r.data;
}

/** The request's JSON body, checked against `schema`: 400 for a body that is not JSON or does not fit. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  let value: unknown;
  try {
    value = JSON.parse(await c.req.text());
  } catch (e) {
    throw badRequest(`the body is not valid JSON (${(e as Error).message})`, "invalid_json");
  }
  return check(schema, value);
}

/** Query parameters checked against `schema` (values are strings; use z.coerce for numbers). */
export function query<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return check(schema, c.req.query(), "query");
}

/** errno codes of a disk that cannot take a write: full (507), or read-only, denied, failing (500). */
const FULL = new Set(["ENOSPC", "EDQUOT", "SQLITE_FULL"]);
const UNWRITABLE = new Set(["EACCES", "EPERM", "EROFS", "EIO", "ENOTDIR", "EISDIR", "EMFILE", "ENFILE",
  "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_CORRUPT"]);

/**
 * The server's own disk failing under a request (an upload stored, a row written): a 507 when it
 * is full, else a 500 `storage_error`, each naming the cause, instead of a bare `internal`.
 */
export function storageError(err: Error): { status: 500 | 507; code: string; message: string } | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code !== "string") return undefined;
  const base = code.replace(/^(SQLITE_[A-Z]+)_.*$/, "$1"); // SQLITE_IOERR_WRITE -> SQLITE_IOERR
  const why = err.message.split("\n")[0].slice(0, 300);
  if (FULL.has(base)) return { status: 507, code: "insufficient_storage", message: `the server's disk is full (${code}: ${why}): free space in its data directory and try again` };
  if (UNWRITABLE.has(base)) return { status: 500, code: "storage_error", message: `the server cannot read or write its data directory (${code}: ${why}): check its permissions and the disk` };
  return undefined;
}

/** The one error handler: ApiError/HTTPException as they are, anything else a logged 500. */
export function onApiError(log: (s: string) => void) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? "body_too_large" : status === 401 ? "unauthorized" : status === 403 ? "forbidden" : "http_error";
      return c.json({ error: { code, message: err.message || `HTTP ${status}` } }, status as ContentfulStatusCode);
    }
    const storage = storageError(err);
    if (storage) {
      log(`storage error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
      return c.json({ error: { code: storage.code, message: storage.message } }, storage.status);
    }
    log(`internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return c.json({ error: { code: "internal", message: "internal server error (logged)" } }, 500);
  };
}
