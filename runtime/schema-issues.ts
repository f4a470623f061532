/** One line for what a zod schema refused, shared by the server's 400s and the agent's checks. */
import type { z } from "zod";

/** "field.sub[2]: message" for the first few issues; the whole value is called `whole` ("body"). */
export function describeIssues(issues: readonly z.core.$ZodIssue[], whole = "body"): string {
  return issues.slice(0, 5).map((i) => {
    const path = i.path.reduce<string>((s, p) => typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p), "");
    return `${path || whole}: ${i.message}`;
  }).join("; ");
}
