/**
 * HAT's gene encoding of a SubTransformer (docs/method.md §7): a fixed-length list of genes, one
 * per elastic choice, with every per-layer list at the space's largest layer count. A genome
 * decodes to an Arch by reading the layer counts and keeping the first that many per-layer genes,
 * so a mutation of a layer count keeps (or uncovers) the genes of the layers it adds, as in HAT.
 * Different genomes can decode to the same Arch; caches and deduplication use `archKey`.
 *
 * Gene order:
 *   encoderEmbedDim, encoderLayers, encoderFfn[0..Le), encoderHeads[0..Le),
 *   decoderEmbedDim, decoderLayers, decoderFfn[0..Ld), decoderSelfHeads[0..Ld),
 *   decoderCrossHeads[0..Ld), decoderEndeLayers[0..Ld)
 * with Le, Ld the space's largest encoder and decoder layer counts.
 */
import { builtFromSpace } from "../runtime/arch.js";
import type { Arch, Space, ValidArch } from "../runtime/types.js";

/** A genome: one value per gene, each one of its gene's choices. */
export type Genome = number[];

/** The genes of a space: each gene's choices, and where the per-layer runs start. */
export class GeneLayout {
  readonly space: Space;
  /** choices[i]: the values gene i can take. */
  readonly choices: readonly (readonly number[])[];
  /** Largest encoder and decoder layer counts of the space. */
  readonly maxEncoder: number;
  readonly maxDecoder: number;
  private readonly at: {
    encEmbed: number; encLayers: number; encFfn: number; encHeads: number;
    decEmbed: number; decLayers: number; decFfn: number; decSelf: number; decCross: number; decEnde: number;
  };

  constructor(space: Space) {
    this.space = space;
    const Le = Math.max(...space.encoderLayerChoices), Ld = Math.max(...space.decoderLayerChoices);
    this.maxEncoder = Le;
    this.maxDecoder = Ld;
    const choices: number[][] = [];
    const push = (xs: number[], n = 1) => {
      const start = choices.length;
      for (let i = 0; i < n; i++) choices.push([...xs]);
      return start;
    };
    this.at = {
      encEmbed: push(space.encoderEmbedChoices),
      encLayers: push(space.encoderLayerChoices),
      encFfn: push(space.encoderFfnChoices, Le),
      encHeads: push(space.encoderHeadChoices, Le),
      decEmbed: push(space.decoderEmbedChoices),
      decLayers: push(space.decoderLayerChoices),
      decFfn: push(space.decoderFfnChoices, Ld),
      decSelf: push(space.decoderSelfHeadChoices, Ld),
      decCross: push(space.decoderCrossHeadChoices, Ld),
      decEnde: push(space.endeLayerChoices, Ld),
    };
    this.choices = choices;
  }

  get length(): number {
    return this.choices.length;
  }

  /**
   * The SubTransformer a genome stands for. Valid by construction (runtime/arch.ts
   * `builtFromSpace`) when every gene is one of its choices, as random, mutate, crossover and
   * neighbours keep them, and as encode makes them of an arch of the space.
   */
  decode(g: Genome): ValidArch {
    if (g.length !== this.length) throw new RangeError(`genome has ${g.length} genes, the space needs ${this.length}`);
    const at = this.at;
    const Le = g[at.encLayers], Ld = g[at.decLayers];
    const run = (start: number, n: number) => g.slice(start, start + n);
    return builtFromSpace({
      encoderEmbedDim: g[at.encEmbed],
      decoderEmbedDim: g[at.decEmbed],
      encoderLayers: Le,
      decoderLayers: Ld,
      encoderFfnDims: run(at.encFfn, Le),
      encoderHeads: run(at.encHeads, Le),
      decoderFfnDims: run(at.decFfn, Ld),
      decoderSelfHeads: run(at.decSelf, Ld),
      decoderCrossHeads: run(at.decCross, Ld),
      decoderEndeLayers: run(at.decEnde, Ld),
      qkvDim: this.space.qkvDim,
    });
  }

  /** A genome of `arch`; genes of layers it does not have copy its last layer's. */
  encode(a: Arch): Genome {
    const g: Genome = new Array(this.length);
    const at = this.at;
    const fill = (start: number, n: number, xs: number[]) => {
      for (let i = 0; i < n; i++) g[start + i] = xs[Math.min(i, xs.length - 1)];
    };
    g[at.encEmbed] = a.encoderEmbedDim;
    g[at.encLayers] = a.encoderLayers;
    fill(at.encFfn, this.maxEncoder, a.encoderFfnDims);
    fill(at.encHeads, this.maxEncoder, a.encoderHeads);
    g[at.decEmbed] = a.decoderEmbedDim;
    g[at.decLayers] = a.decoderLayers;
    fill(at.decFfn, this.maxDecoder, a.decoderFfnDims);
    fill(at.decSelf, this.maxDecoder, a.decoderSelfHeads);
    fill(at.decCross, this.maxDecoder, a.decoderCrossHeads);
    fill(at.decEnde, this.maxDecoder, a.decoderEndeLayers);
    return g;
  }

  /** Every gene drawn uniformly from its choices (decodes to HAT's uniform sampling). */
  random(rng: () => number): Genome {
    return this.choices.map((xs) => pick(xs, rng));
  }

  /** HAT's mutation: each gene redrawn uniformly from its choices with probability `prob`. */
  mutate(g: Genome, prob: number, rng: () => number): Genome {
    return g.map((v, i) => (rng() < prob ? pick(this.choices[i], rng) : v));
  }

  /** HAT's crossover: each gene from one of the two parents with probability 1/2. */
  crossover(a: Genome, b: Genome, rng: () => number): Genome {
    return a.map((v, i) => (rng() < 0.5 ? v : b[i]));
  }

  /** Every genome differing from `g` in exactly one gene (for local searches). */
  *neighbours(g: Genome): Generator<Genome> {
    for (let i = 0; i < g.length; i++) {
      for (const v of this.choices[i]) {
        if (v === g[i]) continue;
        const n = g.slice();
        n[i] = v;
        yield n;
      }
    }
  }
}

function pick(xs: readonly number[], rng: () => number): number {
  return xs[Math.min(xs.length - 1, Math.floor(rng() * xs.length))];
}

/** Every SubTransformer of a space (each once), for brute force on tiny spaces; throws past `limit`. */
export function enumerateArchs(space: Space, limit = 100_000): ValidArch[] {
  const out: ValidArch[] = [];
  const perLayer = (n: number, lists: number[][]): number[][][] => {
    // all assignments of each per-layer list: the product over layers of the product of choices
    let acc: number[][][] = [lists.map(() => [])];
    for (let i = 0; i < n; i++) {
      const next: number[][][] = [];
      for (const partial of acc) {
        const combos = product(lists);
        for (const c of combos) next.push(partial.map((xs, j) => [...xs, c[j]]));
      }
      acc = next;
      if (acc.length > limit) throw new RangeError(`the space has more than ${limit} SubTransformers`);
    }
    return acc;
  };
  for (const De of space.encoderEmbedChoices) for (const Dd of space.decoderEmbedChoices) {
    for (const Le of space.encoderLayerChoices) for (const Ld of space.decoderLayerChoices) {
      const enc = perLayer(Le, [space.encoderFfnChoices, space.encoderHeadChoices]);
      const dec = perLayer(Ld, [space.decoderFfnChoices, space.decoderSelfHeadChoices, space.decoderCrossHeadChoices, space.endeLayerChoices]);
      for (const [ef, eh] of enc) for (const [df, ds, dc, de] of dec) {
        if (de.some((k) => k > Le)) continue;
        out.push(builtFromSpace({
          encoderEmbedDim: De, decoderEmbedDim: Dd, encoderLayers: Le, decoderLayers: Ld,
          encoderFfnDims: ef, encoderHeads: eh, decoderFfnDims: df, decoderSelfHeads: ds, decoderCrossHeads: dc,
          decoderEndeLayers: de, qkvDim: space.qkvDim,
        }));
        if (out.length > limit) throw new RangeError(`the space has more than ${limit} SubTransformers`);
      }
    }
  }
  return out;
}

function product(lists: number[][]): number[][] {
  let acc: number[][] = [[]];
  for (const xs of lists) acc = acc.flatMap((p) => xs.map((x) => [...p, x]));
  return acc;
}
