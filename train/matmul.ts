/**
 * The linear layers' and the tied output projection's products, with their gradients written out.
 *
 * Backward, `dy · Wᵀ` and `Xᵀ · dy` take transposed operands. Our wasm kernels (./hat-matmul.ts)
 * and the native backends take the transpose flags at full speed; tfjs-backend-wasm's own kernels
 * do not (4.22 sends only untransposed 2-d products to XNNPACK, a flag falls back to a loop 10-20x
 * slower), so there the operand is copied transposed by `tf.transpose` first
 * (`transposeFlagsFast()`). The bias gradient, a sum over rows, is a product with a row of ones
 * on the fast path: tfjs-wasm's `Sum` over axis 0 transposes the whole [M, N] first.
 *
 * Shapes: a [M, K], b [K, N] (or [N, K] with transposeB), y [M, N].
 */
import * as tf from "@tensorflow/tfjs";
import { transposeFlagsFast } from "./hat-matmul.js";

/** a · bᵀ, with the flag or with b copied transposed (see above). */
function mulBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return transposeFlagsFast() ? tf.matMul(a, b, false, true) : tf.matMul(a, tf.transpose(b));
}

/** aᵀ · b, with the flag or with a copied transposed. */
function mulAT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return transposeFlagsFast() ? tf.matMul(a, b, true, false) : tf.matMul(tf.transpose(a), b);
}

/** Σ over rows of x [M, N] -> [N]. */
export function sumRows(x: tf.Tensor2D): tf.Tensor1D {
  if (!transposeFlagsFast() || tf.getBackend() !== "wasm") return tf.sum(x, 0);
  return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, x.shape[0]]), x), [x.shape[1]]));
}

/** y = act(x · w + bias): x [M, K], w [K, N], bias [N] -> [M, N]; gradients for all three. */
export const linearOp: (x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D, relu: boolean) => tf.Tensor2D = (() => {
  const make = (relu: boolean) =>
    tf.customGrad((x, w, bias, save) => {
      const y = tf.fused.matMul({
        a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: bias as tf.Tensor, activation: relu ? "relu" : "linear",
      }); // [M, N]
      (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor, y]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, ws, ys] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
          const g: tf.Tensor2D = relu ? tf.mul(dy as tf.Tensor2D, tf.step(ys)) : (dy as tf.Tensor2D); // [M, N]
          return [
            mulBT(g, ws), // dx [M, K]
            mulAT(xs, g), // dw [K, N]
            sumRows(g), // dbias [N]
          ];
        },
      };
    });
  const plain = make(false), withRelu = make(true);
  return (x, w, bias, relu) => (relu ? withRelu(x, w, bias) : plain(x, w, bias)) as tf.Tensor2D;
})();

/** y = a · bᵀ: a [M, K], b [N, K] -> [M, N] (the tied output projection h · Eᵀ). */
export const matMulBT: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: mulBT(a as tf.Tensor2D, b as tf.Tensor2D), // [M, N]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [
        tf.matMul(dy as tf.Tensor2D, bs), // da [M, K]
        mulAT(dy as tf.Tensor2D, as), // db [N, K]
      ];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
