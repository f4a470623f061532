/**
 * Adam over flat buffers (train/optim.ts, the norm summed in its pass) against the tfjs-ops Adam
 * it replaced (with tfjs's global norm), on the d 256 / V 8000 SuperTransformer's shapes, on the
 * wasm backend, interleaved; medians of 7. Run: `node --import tsx bench/adam.ts`.
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../train/backend.js";
import { Adam } from "../train/optim.js";
await selectBackend("wasm", () => {});
const shapes = [[8000, 256], [1024, 256], ...Array.from({ length: 12 }, () => [256, 1024]), ...Array.from({ length: 12 }, () => [256, 256])];
const vars = new Map<string, tf.Variable>(), grads = new Map<string, Float32Array>(), gt = new Map<string, tf.Tensor>();
shapes.forEach((s, i) => { vars.set("v" + i, tf.variable(tf.randomNormal(s))); const g = new Float32Array(s[0] * s[1]).fill(0.01); grads.set("v" + i, g); gt.set("v" + i, tf.tensor(g, s)); });
let P = 0; for (const g of grads.values()) P += g.length;
const mom = new Map([...vars].map(([n, v]) => [n, { m: tf.variable(tf.zerosLike(v), false), v: tf.variable(tf.zerosLike(v), false) }]));
function oldAdam(lr: number) {
  const b1 = 0.9, b2 = 0.98, eps = 1e-8;
  const ss = tf.tidy(() => tf.addN([...gt.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
  for (const [name, g] of gt) {
    const p = vars.get(name)!, s = mom.get(name)!;
    tf.tidy(() => {
      const m = tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1));
      const v = tf.add(tf.mul(s.v, b2), tf.mul(tf.square(g), 1 - b2));
      s.m.assign(m); s.v.assign(v);
      p.assign(tf.sub(p, tf.mul(tf.div(m, tf.add(tf.sqrt(v), eps)), lr)));
    });
  }
  return ss;
}
const opt = new Adam();
const a: number[] = [], b: number[] = [];
for (let r = 0; r < 7; r++) {
  let t0 = performance.now(); opt.apply(vars, grads, 1e-3); a.push(performance.now() - t0);
  t0 = performance.now(); oldAdam(1e-3); b.push(performance.now() - t0);
}
const med = (x: number[]) => x.sort((p, q) => p - q)[3];
console.log(`P ${(P / 1e6).toFixed(2)} M: flat Adam (norm included) ${med(a).toFixed(1)} ms, tfjs-ops Adam + norm ${med(b).toFixed(1)} ms: ${(med(b) / med(a)).toFixed(2)}x`);
