/**
 * Latency datasets: one row per measured SubTransformer, read from and written to HAT's CSV
 * layout (docs/method.md §5) so HAT's published datasets load as they are and ours load in HAT.
 *
 * Columns, in order:
 *   - HAT's 14: the 10 features (HAT_FEATURE_NAMES), `latency_mean_encoder`, `latency_mean_decoder`,
 *     `latency_std_encoder`, `latency_std_decoder` (ms). HAT's reader splits each line on commas,
 *     takes the first 10 fields as features and fields 11 and 12 as the two means; nothing else.
 *   - ours, optional (EXTRA_COLUMNS): the protocol (runtime/protocol.ts, a column a field: runs,
 *     warmup, vocab, src_len, tgt_len, beam, trim, rounds, keep, threads, quant, build; in files from
 *     before trim, rounds, keep, threads and quant were columns they read as UNRECORDED_DEFAULTS:
 *     quant f32), the
 *     device (CPU model, cores, arch, platform), the campaign's bookkeeping (sample, seq, pass,
 *     load1, measured_at, replaced_total_ms), the machine's speed when measured (speed, ref_ms:
 *     runtime/steady.ts; files without them read as rows that do not say) and the full
 *     architecture `arch`.
 *     Every cell we write is free of commas and quotes, so HAT's naive comma split still works.
 * Numbers are written as Python's repr writes them (HAT's files round-trip byte for byte).
 *
 * Every problem with a file is a LatencyDataError naming the file, line and column.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { arch as osArch, cpus, platform } from "node:os";
import { validateArch } from "../runtime/arch.js";
import { ArchError } from "../runtime/arch-error.js";
import { archKey, hatFeatures } from "../runtime/arch-features.js";
import { writeFileAtomic } from "../runtime/files.js";
import { PROTOCOL_FIELDS, ProtocolError, readProtocol, type Protocol } from "../runtime/protocol.js";
import { HAT_FEATURE_NAMES, type Arch, type ValidArch } from "../runtime/types.js";
import { InputError } from "../runtime/errors.js";

export class LatencyDataError extends InputError {
  override name = "LatencyDataError";
}

// ---------------------------------------------------------------------------------------------
// Device

/** Where a latency was measured. */
export interface DeviceInfo {
  cpu: string; // CPU model, as the OS reports it
  cores: number; // logical cores
  arch: string; // x64, arm64, ...
  platform: string; // linux, darwin, win32, ...
}

/** This machine. */
export function thisDevice(): DeviceInfo {
  const c = cpus();
  return { cpu: cellText(c[0]?.model?.trim() || "unknown"), cores: c.length, arch: osArch(), platform: platform() };
}

/** One line naming a device (a string device is returned as it is). */
export function deviceLabel(d: DeviceInfo | string | undefined): string {
  if (d === undefined) return "unknown device";
  if (typeof d === "string") return d;
  return `${d.cpu} x${d.cores} (${d.arch} ${d.platform})`;
}

export function sameDevice(a: DeviceInfo, b: DeviceInfo): boolean {
  return a.cpu === b.cpu && a.cores === b.cores && a.arch === b.arch && a.platform === b.platform;
}

// ---------------------------------------------------------------------------------------------
// Rows

/** HAT's latency columns after the 10 features (ms). */
export const HAT_LATENCY_COLUMNS = ["latency_mean_encoder", "latency_mean_decoder", "latency_std_encoder", "latency_std_decoder"] as const;
/** HAT's CSV header, in order. */
export const HAT_COLUMNS: readonly string[] = [...HAT_FEATURE_NAMES, ...HAT_LATENCY_COLUMNS];

export interface LatencyRow {
  /** HAT's 10 features, HAT_FEATURE_NAMES order. */
  features: number[];
  encoder_ms: number;
  decoder_ms: number;
  encoder_std_ms: number;
  decoder_std_ms: number;
  /** The full architecture, when the dataset has it (ours do; HAT's do not). */
  arch?: ValidArch;
  /** How it was measured, the wasm build included (ours; HAT's datasets do not say). */
  protocol?: Protocol;
  device?: DeviceInfo;
  /** Campaign bookkeeping: the architecture's index in the campaign's list. */
  sample?: number;
  /** Position of the measurement in its process (0 = first after start: warm-up prone). */
  seq?: number;
  /** 0: first measurement; 1: a re-measurement (supersedes the earlier row of the same arch). */
  pass?: number;
  /** 1-minute load average when measured (how busy the machine was). */
  load1?: number;
  measured_at?: string;
  /** Total (ms) of the measurement this row replaced, when it is a re-measurement. */
  replaced_total_ms?: number;
  /**
   * The machine's speed when measured (runtime/steady.ts): the reference architecture's timing
   * over its baseline in the measuring process (>1: slower than usual). Positive.
   */
  speed?: number;
  /** The reference's timing (ms) that `speed` divides. Positive. */
  ref_ms?: number;
}

export const totalMs = (r: LatencyRow): number => r.encoder_ms + r.decoder_ms;

/** Every row must agree on one value of `get` (or none have it); returns it. */
export function commonValue<T>(rows: readonly LatencyRow[], get: (r: LatencyRow) => T | undefined, same: (a: T, b: T) => boolean, what: string, show: (v: T) => string): T | undefined {
  let first: T | undefined;
  for (const r of rows) {
    const v = get(r);
    if (v === undefined) continue;
    if (first === undefined) first = v;
    else if (!same(first, v)) throw new LatencyDataError(`rows measured with different ${what}: ${show(first)} and ${show(v)} (fit one predictor per ${what})`);
  }
  return first;
}

/** Our optional columns, in the order we write them. */
export const EXTRA_COLUMNS = [
  ...PROTOCOL_FIELDS,
  "device_cpu", "device_cores", "device_arch", "device_platform",
  "sample", "seq", "pass", "load1", "measured_at", "replaced_total_ms", "speed", "ref_ms", "arch",
] as const;

/** Protocol columns a row with `runs` must fill (the others came later: UNRECORDED_DEFAULTS fill them in). */
const REQUIRED_PROTOCOL_COLUMNS = ["warmup", "vocab", "src_len", "tgt_len", "beam"] as const;

// ---------------------------------------------------------------------------------------------
// Cells

/** Python's repr of a float (HAT wrote its CSVs from Python): 6.0, 1877.3333333333333, 5e-05. */
export function pyFloat(x: number): string {
  if (!Number.isFinite(x)) throw new LatencyDataError(`cannot write ${x}`);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    return x.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  }
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** Feature columns HAT writes as integers (embed dims, layer counts); the averages are floats. */
const INT_FEATURES = new Set([0, 1, 4, 5]);

/** A text cell without commas, quotes or line breaks (HAT splits lines on commas). */
function cellText(s: string): string {
  return s.replace(/[,"\r\n]/g, " ").replace(/\s+/g, " ").trim();
}

const ARCH_CELL_KEYS: readonly [string, keyof Arch][] = [
  ["De", "encoderEmbedDim"], ["Le", "encoderLayers"], ["Fe", "encoderFfnDims"], ["He", "encoderHeads"],
  ["Dd", "decoderEmbedDim"], ["Ld", "decoderLayers"], ["Fd", "decoderFfnDims"], ["Hs", "decoderSelfHeads"],
  ["Hc", "decoderCrossHeads"], ["Ke", "decoderEndeLayers"], ["Q", "qkvDim"],
];

/**
 * An architecture as one comma-free cell: `De=512 Le=6 Fe=3072/2048/... He=8/4/... Dd=640 Ld=3
 * Fd=... Hs=... Hc=... Ke=1/2/3 Q=512` (Ke: encoder layers attended per decoder layer, 1..3).
 */
export function archToCell(a: Arch): string {
  return ARCH_CELL_KEYS.map(([k, f]) => `${k}=${Array.isArray(a[f]) ? (a[f] as number[]).join("/") : a[f]}`).join(" ");
}

const LIST_FIELDS = new Set<keyof Arch>(["encoderFfnDims", "encoderHeads", "decoderFfnDims", "decoderSelfHeads", "decoderCrossHeads", "decoderEndeLayers"]);

export function archFromCell(s: string): ValidArch {
  const obj: Record<string, number | number[]> = {};
  const known = new Map(ARCH_CELL_KEYS);
  for (const part of s.trim().split(/\s+/)) {
    const m = /^(\w+)=(\d+(?:\/\d+)*)$/.exec(part);
    if (!m) throw new ArchError("", `cannot read '${part}' (expected KEY=N or KEY=N/N/...)`);
    const field = known.get(m[1]);
    if (!field) throw new ArchError(m[1], `unknown key (known: ${ARCH_CELL_KEYS.map(([k]) => k).join(", ")})`);
    if (field in obj) throw new ArchError(m[1], "given twice");
    const nums = m[2].split("/").map(Number);
    if (!LIST_FIELDS.has(field) && nums.length > 1) throw new ArchError(m[1], "expected one number");
    obj[field] = LIST_FIELDS.has(field) ? nums : nums[0];
  }
  return validateArch(obj);
}

// ---------------------------------------------------------------------------------------------
// CSV text

/** Fields of one CSV line (RFC 4180 quotes accepted, as pandas may write them). */
function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let cur = "", q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ",") { out.push(cur); cur = ""; }
    else cur += c;
  }
  if (q) throw new LatencyDataError("unterminated quote");
  out.push(cur);
  return out;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface ReadOptions {
  /**
   * A last line without its newline is a row cut short by a kill: drop it (the campaign does,
   * and re-measures it) instead of refusing the file. `truncatedTail` in the result says so.
   */
  dropTruncatedTail?: boolean;
  /** A header without rows is an empty dataset, not an error (a campaign killed before its first row). */
  allowEmpty?: boolean;
}

export interface Dataset {
  rows: LatencyRow[];
  /** The header, as read. */
  columns: string[];
  /** Bytes of the file that hold complete lines (the campaign truncates the file to this). */
  completeBytes: number;
  /** The dropped incomplete last line, when dropTruncatedTail. */
  truncatedTail?: string;
}

/** Parse CSV text in HAT's layout (plus our optional columns). `name` is used in errors. */
export function parseDataset(text: string, name = "input", o: ReadOptions = {}): Dataset {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let completeBytes = Buffer.byteLength(text);
  let truncatedTail: string | undefined;
  const lastNl = text.lastIndexOf("\n");
  if (o.dropTruncatedTail && text.length > 0 && !text.endsWith("\n") && lastNl >= 0) {
    truncatedTail = text.slice(lastNl + 1);
    text = text.slice(0, lastNl + 1);
    completeBytes = Buffer.byteLength(text);
  }
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const firstLine = lines.findIndex((l) => l.trim() !== "");
  if (firstLine < 0) throw new LatencyDataError(`${name}: empty file (expected HAT's CSV header: ${HAT_COLUMNS.join(",")})`);
  const at = (i: number) => `${name}:${i + 1}`;
  let columns: string[];
  try {
    columns = splitCsvLine(lines[firstLine]).map((c) => c.trim());
  } catch (e) {
    throw new LatencyDataError(`${at(firstLine)}: ${(e as Error).message}`);
  }
  const col = new Map(columns.map((c, i) => [c, i]));
  const missing = HAT_COLUMNS.filter((c) => !col.has(c));
  if (missing.length) {
    throw new LatencyDataError(`${at(firstLine)}: missing column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (HAT's layout: ${HAT_COLUMNS.join(",")})`);
  }
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup) throw new LatencyDataError(`${at(firstLine)}: column ${dup} appears twice`);

  const rows: LatencyRow[] = [];
  for (let li = firstLine + 1; li < lines.length; li++) {
    const line = lines[li];
    if (line.trim() === "") continue;
    const where = at(li);
    let cells: string[];
    try {
      cells = splitCsvLine(line);
    } catch (e) {
      throw new LatencyDataError(`${where}: ${(e as Error).message}`);
    }
    if (cells.length !== columns.length) {
      const hint = li === lines.length - 1 && !text.endsWith("\n") ? " (the last line is incomplete: a campaign killed while writing? `hat profile-campaign` repairs it on resume)" : "";
      throw new LatencyDataError(`${where}: ${cells.length} fields, the header has ${columns.length}${hint}`);
    }
    rows.push(parseRow(cells, col, where));
  }
  if (rows.length === 0 && !o.allowEmpty) throw new LatencyDataError(`${name}: no rows after the header`);
  return { rows, columns, completeBytes, truncatedTail };
}

function parseRow(cells: string[], col: Map<string, number>, where: string): LatencyRow {
  const cell = (c: string) => cells[col.get(c)!].trim();
  const num = (c: string): number => {
    const s = cell(c);
    if (!NUMBER.test(s)) throw new LatencyDataError(`${where}: column ${c}: '${s}' is not a finite number`);
    return Number(s);
  };
  const optNum = (c: string): number | undefined => (col.has(c) && cell(c) !== "" ? num(c) : undefined);
  const optInt = (c: string): number | undefined => {
    const v = optNum(c);
    if (v !== undefined && !Number.isInteger(v)) throw new LatencyDataError(`${where}: column ${c}: ${v} is not an integer`);
    return v;
  };
  const optText = (c: string): string | undefined => (col.has(c) && cell(c) !== "" ? cell(c) : undefined);

  const features = HAT_FEATURE_NAMES.map((c) => {
    const v = num(c);
    if (!(v > 0)) throw new LatencyDataError(`${where}: column ${c}: ${v} is not a positive feature value`);
    return v;
  });
  const [encoder_ms, decoder_ms, encoder_std_ms, decoder_std_ms] = HAT_LATENCY_COLUMNS.map((c) => num(c));
  if (!(encoder_ms > 0) || !(decoder_ms > 0)) throw new LatencyDataError(`${where}: latencies must be positive (encoder ${encoder_ms}, decoder ${decoder_ms})`);
  if (encoder_std_ms < 0 || decoder_std_ms < 0) throw new LatencyDataError(`${where}: standard deviations must not be negative`);
  const row: LatencyRow = { features, encoder_ms, decoder_ms, encoder_std_ms, decoder_std_ms };

  const runs = optInt("runs");
  if (runs !== undefined) {
    const lacking = REQUIRED_PROTOCOL_COLUMNS.filter((c) => optText(c) === undefined);
    if (lacking.length) throw new LatencyDataError(`${where}: the protocol columns ${lacking.join(", ")} are empty while runs is set`);
    const given: Record<string, number | string> = {};
    for (const c of PROTOCOL_FIELDS) {
      const v = optText(c);
      if (v !== undefined) given[c] = c === "keep" || c === "quant" || c === "build" ? v : num(c);
    }
    try {
      row.protocol = readProtocol(given);
    } catch (e) {
      if (e instanceof ProtocolError) throw new LatencyDataError(`${where}: column ${e.message}`);
      throw e;
    }
  } else if (optText("build") !== undefined) {
    throw new LatencyDataError(`${where}: build is set while the protocol columns (runs, ...) are empty`);
  }
  const cpu = optText("device_cpu");
  if (cpu !== undefined) {
    const cores = optInt("device_cores");
    const a = optText("device_arch"), pl = optText("device_platform");
    if (cores === undefined || a === undefined || pl === undefined) throw new LatencyDataError(`${where}: device_cpu is set but device_cores, device_arch or device_platform is empty`);
    row.device = { cpu, cores, arch: a, platform: pl };
  }
  row.sample = optInt("sample");
  row.seq = optInt("seq");
  row.pass = optInt("pass");
  row.load1 = optNum("load1");
  row.measured_at = optText("measured_at");
  row.replaced_total_ms = optNum("replaced_total_ms");
  for (const c of ["speed", "ref_ms"] as const) {
    const v = optNum(c);
    if (v !== undefined && !(v > 0)) throw new LatencyDataError(`${where}: column ${c}: ${v} is not a positive number`);
    row[c] = v;
  }
  const archCell = optText("arch");
  if (archCell !== undefined) {
    try {
      row.arch = archFromCell(archCell);
    } catch (e) {
      if (e instanceof ArchError) throw new LatencyDataError(`${where}: column arch: ${e.message}`);
      throw e;
    }
    const f = hatFeatures(row.arch);
    const bad = f.findIndex((v, i) => Math.abs(v - features[i]) > 1e-6 * Math.max(1, Math.abs(v)));
    if (bad >= 0) throw new LatencyDataError(`${where}: column ${HAT_FEATURE_NAMES[bad]} is ${features[bad]} but the arch gives ${f[bad]}`);
  }
  for (const k of Object.keys(row) as (keyof LatencyRow)[]) if (row[k] === undefined) delete row[k];
  return row;
}

/** Read a dataset file. */
export function readDataset(path: string, o: ReadOptions = {}): Dataset {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new LatencyDataError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseDataset(text, path, o);
}

/**
 * The rows of several files, in order, for fitting or evaluating: one row per architecture
 * (a campaign's re-measurement replaces its first measurement; see latestPerArch).
 */
export function readTrainingRows(paths: readonly string[]): LatencyRow[] {
  if (paths.length === 0) throw new LatencyDataError("no dataset given");
  return latestPerArch(paths.flatMap((p) => readDataset(p).rows), archKey);
}

/**
 * One row per architecture where rows carry one: a later row of the same architecture (a
 * re-measurement) replaces the earlier one in place. Rows without an arch are all kept.
 */
export function latestPerArch(rows: readonly LatencyRow[], key: (a: Arch) => string): LatencyRow[] {
  const at = new Map<string, number>();
  const out: LatencyRow[] = [];
  for (const r of rows) {
    if (!r.arch) { out.push(r); continue; }
    const k = key(r.arch);
    const i = at.get(k);
    if (i === undefined) { at.set(k, out.length); out.push(r); }
    else out[i] = r;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

function hasExtras(r: LatencyRow): boolean {
  return r.arch !== undefined || r.protocol !== undefined || r.device !== undefined;
}

/** The header line: HAT's 14 columns, plus ours when `extras`. */
export function csvHeader(extras: boolean): string {
  return (extras ? [...HAT_COLUMNS, ...EXTRA_COLUMNS] : HAT_COLUMNS).join(",") + "\n";
}

/** One CSV line (with its newline). */
export function formatRow(r: LatencyRow, extras: boolean): string {
  if (r.features.length !== HAT_FEATURE_NAMES.length) throw new LatencyDataError(`a row has ${r.features.length} features, not ${HAT_FEATURE_NAMES.length}`);
  const hat = [
    ...r.features.map((v, i) => (INT_FEATURES.has(i) && Number.isInteger(v) ? String(v) : pyFloat(v))),
    pyFloat(r.encoder_ms), pyFloat(r.decoder_ms), pyFloat(r.encoder_std_ms), pyFloat(r.decoder_std_ms),
  ];
  if (!extras) return hat.join(",") + "\n";
  const p = r.protocol, d = r.device;
  const opt = (v: number | string | undefined) => (v === undefined ? "" : typeof v === "number" ? String(v) : cellText(v));
  const cells = [
    ...PROTOCOL_FIELDS.map((k) => opt(p?.[k])),
    opt(d?.cpu), opt(d?.cores), opt(d?.arch), opt(d?.platform),
    opt(r.sample), opt(r.seq), opt(r.pass), r.load1 === undefined ? "" : r.load1.toFixed(2), opt(r.measured_at),
    r.replaced_total_ms === undefined ? "" : pyFloat(r.replaced_total_ms),
    r.speed === undefined ? "" : pyFloat(r.speed), r.ref_ms === undefined ? "" : pyFloat(r.ref_ms),
    r.arch ? archToCell(r.arch) : "",
  ];
  return [...hat, ...cells].join(",") + "\n";
}

/** The whole dataset as CSV text: HAT's layout alone when no row carries our extra fields. */
export function formatDataset(rows: readonly LatencyRow[]): string {
  const extras = rows.some(hasExtras);
  return csvHeader(extras) + rows.map((r) => formatRow(r, extras)).join("");
}

/** Write a dataset atomically: a temporary file, flushed to disk, renamed over `path`. */
export function writeDataset(path: string, rows: readonly LatencyRow[]): void {
  writeFileAtomic(path, formatDataset(rows));
}

/**
 * An append-only dataset file for a campaign: each row is one write() of a whole line followed
 * by fsync, so a kill loses at most the row being written (and a torn last line is dropped on
 * the next read with dropTruncatedTail).
 */
export class RowAppender {
  private fd: number;

  constructor(readonly path: string) {
    const fresh = !existsSync(path) || readFileSync(path).length === 0;
    this.fd = openSync(path, "a");
    if (fresh) this.write(csvHeader(true));
  }

  append(r: LatencyRow): void {
    this.write(formatRow(r, true));
  }

  private write(s: string): void {
    writeSync(this.fd, s);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
