/**
 * Decoding with a WasmSubTransformer: greedy, beam search (fairseq's rules: 2·beam candidates
 * a step, finished hypotheses scored sum(logp) / len^lenpen, a sentence ends once `beam`
 * hypotheses have finished), and teacher-forced scoring (per-token log-probs and the
 * label-smoothed loss the search uses as fitness).
 */
import { SPECIALS } from "./types.js";
import type { WasmSubTransformer } from "./wasm-model.js";

export interface DecodeOptions {
  /** Beam size (1 = greedy). */
  beam?: number;
  /** Length penalty: hypotheses are ranked by sum(logp) / length^lenpen. */
  lenpen?: number;
  /** Maximum output length (tokens, eos included); default maxLenA · srcLen + maxLenB. */
  maxLen?: number;
  maxLenA?: number;
  maxLenB?: number;
  /** No eos before this many output tokens (fairseq's --min-len). */
  minLen?: number;
}

export interface Hypothesis {
  /** Output tokens, without the final eos. */
  tokens: number[];
  /** Sum of the tokens' log-probabilities (eos included). */
  logProb: number;
  /** logProb / length^lenpen: the ranking score. */
  score: number;
}

function maxLenFor(src: ArrayLike<number>[], o: DecodeOptions, cap: number): number {
  const S = Math.max(...src.map((s) => s.length));
  const n = o.maxLen ?? Math.round((o.maxLenA ?? 1.2) * S + (o.maxLenB ?? 10));
  return Math.max(1, Math.min(n, cap));
}

/** Greedy decoding of a batch: the most likely token at every step until eos or maxLen. */
export function greedy(model: WasmSubTransformer, src: ArrayLike<number>[], o: DecodeOptions = {}): Hypothesis[] {
  const maxLen = maxLenFor(src, o, model.weights.maxPositions);
  const s = model.begin(src, { beam: 1, maxLen });
  try {
    const B = s.rows, V = model.vocabSize;
    const tokens = new Int32Array(B).fill(SPECIALS.eos);
    const out: Hypothesis[] = src.map(() => ({ tokens: [], logProb: 0, score: 0 }));
    const done = new Array<boolean>(B).fill(false);
    for (let t = 0; t < maxLen && done.some((d) => !d); t++) {
      const lp = s.step(tokens, t, true);
      for (let b = 0; b < B; b++) {
        if (done[b]) { tokens[b] = SPECIALS.pad; continue; }
        const best = t === maxLen - 1 ? SPECIALS.eos : argmax(lp, b * V, V, t < (o.minLen ?? 0));
        out[b].logProb += lp[b * V + best];
        if (best === SPECIALS.eos) done[b] = true;
        else out[b].tokens.push(best);
        tokens[b] = best;
      }
    }
    const pen = o.lenpen ?? 1;
    for (const h of out) h.score = h.logProb / Math.pow(h.tokens.length + 1, pen);
    return out;
  } finally {
    s.release();
  }
}

/** The most likely token that may be output (never pad or bos; no eos when `noEos`). */
function argmax(x: Float32Array, off: number, n: number, noEos: boolean): number {
  let best = -1, bv = -Infinity;
  for (let v = 0; v < n; v++) {
    if (v === SPECIALS.pad || v === SPECIALS.bos || (noEos && v === SPECIALS.eos)) continue;
    if (best < 0 || x[off + v] > bv) { bv = x[off + v]; best = v; }
  }
  return best;
}

/** Beam search over a batch; returns each sentence's best finished hypothesis. */
export function beamSearch(model: WasmSubTransformer, src: ArrayLike<number>[], o: DecodeOptions = {}): Hypothesis[] {
  return beamSearchNBest(model, src, o).map((l) => l[0]);
}

/** Beam search over a batch; returns each sentence's finished hypotheses, best first. */
export function beamSearchNBest(model: WasmSubTransformer, src: ArrayLike<number>[], o: DecodeOptions = {}): Hypothesis[][] {
  const beam = o.beam ?? 4, lenpen = o.lenpen ?? 1;
  if (!Number.isInteger(beam) || beam < 1) throw new RangeError(`beam must be a positive integer, got ${beam}`);
  const maxLen = maxLenFor(src, o, model.weights.maxPositions);
  const V = model.vocabSize;
  if (2 * beam > V) throw new RangeError(`beam ${beam} too large for a vocabulary of ${V}`);
  const s = model.begin(src, { beam, maxLen });
  try {
    const Bs = s.sentences, B = s.rows;
    const tokens = new Int32Array(B).fill(SPECIALS.eos);
    const scores = new Float64Array(B); // running sum of log-probs per row
    let hist: number[][] = Array.from({ length: B }, () => []);
    const finished: Hypothesis[][] = Array.from({ length: Bs }, () => []);
    const active = new Array<boolean>(Bs).fill(true);
    const parents = new Int32Array(B);
    for (let t = 0; t < maxLen && active.some(Boolean); t++) {
      const lp = s.step(tokens, t, true);
      const nextHist: number[][] = new Array(B);
      for (let i = 0; i < Bs; i++) {
        const base = i * beam;
        if (!active[i]) {
          for (let j = 0; j < beam; j++) { parents[base + j] = base + j; nextHist[base + j] = hist[base + j]; tokens[base + j] = SPECIALS.pad; }
          continue;
        }
        // At t = 0 all beams are identical: expand only the first.
        const rows = t === 0 ? 1 : beam;
        const cand = topCandidates(lp, scores, base, rows, V, 2 * beam, t === maxLen - 1, t < (o.minLen ?? 0));
        let filled = 0;
        for (let r = 0; r < cand.length; r++) {
          const c = cand[r], row = base + c.beam;
          if (c.token === SPECIALS.eos) {
            // as fairseq: an eos finishes a hypothesis only when it ranks within the top beam
            if (r < beam && finished[i].length < beam) {
              const len = hist[row].length + 1;
              finished[i].push({ tokens: hist[row].slice(), logProb: c.score, score: c.score / Math.pow(len, lenpen) });
            }
          } else if (filled < beam) {
            const dst = base + filled++;
            parents[dst] = row;
            nextHist[dst] = [...hist[row], c.token];
            tokens[dst] = c.token;
            scores[dst] = c.score;
          }
          if (finished[i].length >= beam) break;
        }
        if (finished[i].length >= beam || filled === 0) {
          active[i] = false;
          for (let j = 0; j < beam; j++) { parents[base + j] = base + j; nextHist[base + j] = hist[base + j]; tokens[base + j] = SPECIALS.pad; }
        }
      }
      hist = nextHist;
      if (t + 1 < maxLen && active.some(Boolean)) s.reorder(parents, t);
      for (let b = 0; b < B; b++) scores[b] = active[Math.floor(b / beam)] ? scores[b] : 0;
    }
    return finished.map((f) => f.sort((a, b) => b.score - a.score));
  } finally {
    s.release();
  }
}

interface Candidate { beam: number; token: number; score: number }

/** The k best (scores[row] + lp[row, v]) over the rows of one sentence; with `forceEos`, only eos;
 *  with `noEos`, anything but eos. */
function topCandidates(lp: Float32Array, scores: Float64Array, base: number, rows: number, V: number, k: number, forceEos: boolean, noEos: boolean): Candidate[] {
  const out: Candidate[] = [];
  if (forceEos) {
    for (let j = 0; j < rows; j++) out.push({ beam: j, token: SPECIALS.eos, score: scores[base + j] + lp[(base + j) * V + SPECIALS.eos] });
    return out.sort((a, b) => b.score - a.score);
  }
  let worst = -Infinity;
  for (let j = 0; j < rows; j++) {
    const off = (base + j) * V, sc = scores[base + j];
    for (let v = 0; v < V; v++) {
      if (v === SPECIALS.pad || v === SPECIALS.bos || (noEos && v === SPECIALS.eos)) continue;
      const x = sc + lp[off + v];
      if (out.length === k && x <= worst) continue;
      let i = out.length < k ? out.length : k - 1;
      if (out.length < k) out.push({ beam: j, token: v, score: x });
      while (i > 0 && out[i - 1].score < x) { out[i] = out[i - 1]; i--; }
      out[i] = { beam: j, token: v, score: x };
      worst = out[out.length - 1].score;
    }
  }
  return out;
}

export interface ScoreResult {
  /** Per sentence, log p(y_t | y_<t, x) for each target token and the final eos. */
  tokenLogProbs: Float32Array[];
  /** Sum over tokens of -log p (the plain NLL). */
  nll: number;
  /** fairseq's label-smoothed loss summed over tokens: (1 - eps)·nll + eps/V · sum_v(-log p_v). */
  loss: number;
  /** Number of scored tokens (targets plus one eos each). */
  tokens: number;
}

/** Teacher-forced scoring of (src, tgt) pairs; tgt without eos (it is appended). */
export function score(model: WasmSubTransformer, src: ArrayLike<number>[], tgt: ArrayLike<number>[], labelSmoothing = 0.1): ScoreResult {
  if (src.length !== tgt.length) throw new RangeError(`score: ${src.length} sources but ${tgt.length} targets`);
  const B = src.length, T = Math.max(...tgt.map((t) => t.length)) + 1, V = model.vocabSize;
  const prev = new Int32Array(B * T).fill(SPECIALS.pad);
  const target = new Int32Array(B * T).fill(SPECIALS.pad);
  tgt.forEach((y, b) => {
    prev[b * T] = SPECIALS.eos;
    for (let t = 0; t < y.length; t++) { prev[b * T + t + 1] = y[t]; target[b * T + t] = y[t]; }
    target[b * T + y.length] = SPECIALS.eos;
  });
  const s = model.begin(src, { beam: 1, maxLen: T });
  const wasm = model.weights.wasm;
  try {
    const hidden = s.forwardHidden(prev, T);
    const R = B * T, Dd = model.arch.decoderEmbedDim;
    const tgtP = wasm.putI32(target);
    const nllP = wasm.alloc(R * 4), smP = wasm.alloc(R * 4);
    // logits in chunks of rows so that memory stays bounded by ~64 MiB whatever V is
    const chunk = Math.max(1, Math.min(R, Math.floor((64 << 20) / (4 * V))));
    for (let r0 = 0; r0 < R; r0 += chunk) {
      const n = Math.min(chunk, R - r0);
      const mark = wasm.mark();
      const logits = model.logitsOf(hidden + r0 * Dd * 4, n);
      wasm.call("token_nll", () => wasm.x.token_nll(nllP + r0 * 4, smP + r0 * 4, logits, tgtP + r0 * 4, n, V, SPECIALS.pad));
      wasm.release(mark);
    }
    const nll = wasm.f32(nllP, R).slice(), sm = wasm.f32(smP, R).slice();
    let totNll = 0, totLoss = 0, count = 0;
    const tokenLogProbs = tgt.map((y, b) => {
      const n = y.length + 1, lp = new Float32Array(n);
      for (let t = 0; t < n; t++) {
        const r = b * T + t;
        lp[t] = -nll[r];
        totNll += nll[r];
        totLoss += (1 - labelSmoothing) * nll[r] + (labelSmoothing / V) * sm[r];
      }
      count += n;
      return lp;
    });
    return { tokenLogProbs, nll: totNll, loss: totLoss, tokens: count };
  } finally {
    s.release();
  }
}

/**
 * Label-smoothed loss per target token over batches of (src, tgt) pairs (tgt without eos): the
 * validation loss of training and the search's inherited loss.
 */
export function corpusLoss(model: WasmSubTransformer, batches: readonly (readonly { src: ArrayLike<number>; tgt: ArrayLike<number> }[])[], labelSmoothing = 0.1): number {
  let loss = 0, tokens = 0;
  for (const b of batches) {
    const r = score(model, b.map((p) => p.src), b.map((p) => p.tgt), labelSmoothing);
    loss += r.loss;
    tokens += r.tokens;
  }
  return loss / Math.max(1, tokens);
}

/** What translating text needs of a tokenizer (data/bpe.ts's Bpe). */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
}

/** One translated line: its text and the output tokens it was decoded from (without eos). */
export interface Translation {
  text: string;
  tokens: number[];
}

/**
 * Translate lines of text with beam search, `batch` sentences at a time: each source is cut to the
 * positions the model has and ends with eos; an empty (or blank) line translates to an empty line
 * (no tokens).
 */
export function translateLinesWithTokens(model: WasmSubTransformer, tokenizer: TextTokenizer, lines: readonly string[], o: DecodeOptions & { batch?: number } = {}): Translation[] {
  const B = o.batch ?? 32, out: Translation[] = [];
  for (let i = 0; i < lines.length; i += B) {
    const chunk = lines.slice(i, i + B);
    const src = chunk.map((l) => [...tokenizer.encode(l).slice(0, model.weights.maxPositions - 1), SPECIALS.eos]);
    beamSearch(model, src, o).forEach((h, j) => out.push(chunk[j].trim() === "" ? { text: "", tokens: [] } : { text: tokenizer.decode(h.tokens), tokens: h.tokens }));
  }
  return out;
}

/** {@link translateLinesWithTokens}, the text only (`hat translate`). */
export function translateLines(model: WasmSubTransformer, tokenizer: TextTokenizer, lines: readonly string[], o: DecodeOptions & { batch?: number } = {}): string[] {
  return translateLinesWithTokens(model, tokenizer, lines, o).map((t) => t.text);
}
