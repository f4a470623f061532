/**
 * Matrix products whose gradients never ask the backend for a transposed operand.
 *
 * tfjs's own gradient of `matMul(a, b)` computes `dy · bᵀ` and `aᵀ · dy` with the transpose
 * flags. tfjs-backend-wasm 4.22 sends only untransposed 2-d products to XNNPACK; with a flag set it
 * falls back to a naive loop 10-20x slower (a [3392,512]·[512,128]ᵀ product: ~400 ms instead of
 * ~25 ms on this machine), which made those products ~85 % of a training step. Here the transposes
 * are explicit `tf.transpose` copies (cheap next to the product) and every product is untransposed.
 *
 * Shapes: a [M, K], b [K, N] (or [N, K] with transposeB), y [M, N].
 */
import * as tf from "@tensorflow/tfjs";

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
          const g = relu ? tf.mul(dy, tf.step(ys)) : (dy as tf.Tensor2D); // [M, N]
          return [
            tf.matMul(g, tf.transpose(ws)), // dx [M, K]
            tf.matMul(tf.transpose(xs), g), // dw [K, N]
            tf.sum(g, 0), // dbias [N]
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
    value: tf.matMul(a as tf.Tensor2D, tf.transpose(b as tf.Tensor2D)), // [M, N]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [
        tf.matMul(dy as tf.Tensor2D, bs), // da [M, K]
        tf.matMul(tf.transpose(dy as tf.Tensor2D), as), // db [N, K]
      ];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
