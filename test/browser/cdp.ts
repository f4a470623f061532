/**
 * Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: file
 * descriptors 3 and 4, NUL-terminated JSON), so the browser tests need no npm package — only a
 * `chromium` on the machine (Debian: apt-get install chromium; or $CHROMIUM). What the tests and
 * the screenshot script (./screenshots.ts) use: open a page, evaluate, wait, type, screenshot,
 * and watch the requests it makes.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

/** The Chromium to run: $CHROMIUM, else the first of chromium, chromium-browser, google-chrome that answers --version. */
export function findChromium(): string | undefined {
  const names = [process.env.CHROMIUM, "chromium", "chromium-browser", "google-chrome"].filter((n): n is string => !!n);
  for (const n of names) {
    const r = spawnSync(n, ["--version"], { encoding: "utf8", timeout: 20_000 });
    if (r.status === 0) return n;
  }
  return undefined;
}

type Handler = (params: any, sessionId?: string) => void;

export class Browser {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; method: string }>();
  private readonly handlers = new Map<string, Set<Handler>>();
  private buf = "";
  private exited = false;

  private constructor(private readonly child: ChildProcess, private readonly profile: string) {
    const input = child.stdio[4] as Readable;
    input.setEncoding("utf8");
    input.on("data", (chunk: string) => {
      this.buf += chunk;
      let i: number;
      while ((i = this.buf.indexOf("\0")) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
          else p?.resolve(msg.result);
        } else for (const h of this.handlers.get(msg.method) ?? []) h(msg.params, msg.sessionId);
      }
    });
    child.on("exit", () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited (during ${p.method})`));
      this.pending.clear();
    });
  }

  static async launch(executable: string, o: { width?: number; height?: number } = {}): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), "hat-chromium-"));
    const args = [
      "--headless=new", "--remote-debugging-pipe", `--user-data-dir=${profile}`, "--no-first-run", "--no-default-browser-check",
      "--disable-gpu", "--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio", "--hide-scrollbars",
      `--window-size=${o.width ?? 1280},${o.height ?? 900}`, "--force-device-scale-factor=1",
      ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), // Chromium's sandbox refuses to run as root
      "about:blank",
    ];
    const child = spawn(executable, args, { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const b = new Browser(child, profile);
    try {
      await Promise.race([
        b.send("Browser.getVersion"),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`chromium did not answer in 30 s: ${stderr}`)), 30_000)),
      ]);
    } catch (e) {
      await b.close();
      throw e;
    }
    return b;
  }

  send(method: string, params: object = {}, sessionId?: string): Promise<any> {
    if (this.exited) return Promise.reject(new Error(`chromium has exited (${method})`));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      (this.child.stdio[3] as Writable).write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
    });
  }

  on(event: string, h: Handler): () => void {
    const set = this.handlers.get(event) ?? new Set();
    set.add(h);
    this.handlers.set(event, set);
    return () => set.delete(h);
  }

  async newPage(o: { width?: number; height?: number } = {}): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, sessionId as string, o.width ?? 1280, o.height ?? 900);
    await page.init();
    return page;
  }

  async close(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
      this.send("Browser.close").catch(() => {});
      const t = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(t);
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/** A request the page made (Network.requestWillBeSent). */
export interface SeenRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
}

export class Page {
  readonly requests: SeenRequest[] = [];
  readonly errors: string[] = [];

  constructor(readonly browser: Browser, readonly sessionId: string, private width: number, private height: number) {}

  send(method: string, params: object = {}): Promise<any> {
    return this.browser.send(method, params, this.sessionId);
  }

  async init(): Promise<void> {
    this.browser.on("Network.requestWillBeSent", (p, sid) => {
      if (sid === this.sessionId) this.requests.push({ url: p.request.url, method: p.request.method, headers: p.request.headers });
    });
    this.browser.on("Runtime.exceptionThrown", (p, sid) => {
      if (sid === this.sessionId) this.errors.push(p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text ?? "exception");
    });
    this.browser.on("Log.entryAdded", (p, sid) => {
      // a failed request's console line (a 401 the page handles) is not an error of the page
      if (sid === this.sessionId && p.entry?.level === "error" && p.entry.source !== "network") this.errors.push(`${p.entry.source}: ${p.entry.text}`);
    });
    await Promise.all([this.send("Page.enable"), this.send("Runtime.enable"), this.send("Network.enable"), this.send("Log.enable")]);
    await this.send("Emulation.setDeviceMetricsOverride", { width: this.width, height: this.height, deviceScaleFactor: 1, mobile: false });
  }

  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const off = this.browser.on("Page.loadEventFired", (_p, sid) => { if (sid === this.sessionId) { off(); resolve(); } });
    });
    const r = await this.send("Page.navigate", { url });
    if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
    await loaded;
  }

  /** The value of a JavaScript expression in the page (a promise is awaited). */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Waits until the expression is truthy (polling); fails after `ms` saying what it waited for. */
  async waitFor<T = unknown>(expression: string, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    let last: unknown;
    for (;;) {
      try {
        last = await this.eval(expression);
        if (last) return last as T;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${expression} (last: ${JSON.stringify(last)}; page errors: ${this.errors.join(" | ") || "none"})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Focuses the element and types the text as keyboard input. */
  async type(selector: string, text: string): Promise<void> {
    await this.eval(`document.querySelector(${JSON.stringify(selector)}).focus()`);
    await this.send("Input.insertText", { text });
  }

  async click(selector: string): Promise<void> {
    await this.eval(`document.querySelector(${JSON.stringify(selector)}).click()`);
  }

  /** A PNG of the whole page (its full height, at the page's width: the viewport is that tall while it is taken). */
  async screenshot(file: string): Promise<void> {
    const m = await this.send("Page.getLayoutMetrics");
    const h = Math.max(this.height, Math.min(6000, Math.ceil(m.cssContentSize?.height ?? m.contentSize.height)));
    await this.send("Emulation.setDeviceMetricsOverride", { width: this.width, height: h, deviceScaleFactor: 1, mobile: false });
    try {
      await new Promise((r) => setTimeout(r, 300)); // a layout at the new height
      const shot = await this.send("Page.captureScreenshot", { format: "png", clip: { x: 0, y: 0, width: this.width, height: h, scale: 1 } });
      writeFileSync(file, Buffer.from(shot.data, "base64"));
    } finally {
      await this.send("Emulation.setDeviceMetricsOverride", { width: this.width, height: this.height, deviceScaleFactor: 1, mobile: false });
    }
  }
}
