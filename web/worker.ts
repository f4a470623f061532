/**
 * The page's worker (started by web/main.ts from its bundled source): holds the model and
 * translates off the page's thread, so typing never waits for a decode. Messages:
 *
 *   in   { id, load: LoadRequest }            out  { id, info: ModelInfo }  or { id, error: PlainError }
 *   in   { id, translate: TranslateRequest }  out  { id, result: TranslateResult }  or { id, error }
 */
import { PageTranslator, plainError, type LoadRequest, type ModelInfo, type PlainError, type TranslateRequest, type TranslateResult } from "./translator.js";

export type WorkerRequest = { id: number; load: LoadRequest } | { id: number; translate: TranslateRequest };
export type WorkerReply = { id: number; info: ModelInfo } | { id: number; result: TranslateResult } | { id: number; error: PlainError };

/** Answers requests in order; holds the loaded model. The worker runs one; the page's same-thread fallback another. */
export class RequestHandler {
  private translator: PageTranslator | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /** The reply to `req`, after every earlier request's (a load may wait for its threads to start). */
  answer(req: WorkerRequest): Promise<WorkerReply> {
    const reply = this.queue.then(() => this.answerNow(req));
    this.queue = reply;
    return reply;
  }

  private async answerNow(req: WorkerRequest): Promise<WorkerReply> {
    try {
      if ("load" in req) {
        this.translator?.wasm.close(); // a model that fails to load replaces the old one too
        this.translator = undefined;
        const r = await PageTranslator.load(req.load);
        this.translator = r.translator;
        return { id: req.id, info: r.info };
      }
      if (!this.translator) return { id: req.id, error: { message: "no model loaded" } };
      return { id: req.id, result: this.translator.translate(req.translate) };
    } catch (e) {
      return { id: req.id, error: plainError(e) };
    }
  }
}

/** Listen for the page's requests (the worker bundle's entry calls it with the worker's global scope). */
export function serveRequests(scope: { onmessage: ((ev: MessageEvent) => void) | null; postMessage(m: unknown): void }): void {
  const h = new RequestHandler();
  scope.onmessage = (ev: MessageEvent) => void h.answer(ev.data as WorkerRequest).then((r) => scope.postMessage(r));
}
