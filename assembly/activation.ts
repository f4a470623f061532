// Element-wise kernels over n contiguous f32 values.

/** x = max(x, 0), in place. */
export function relu(x: usize, n: i32): void {
  const z = f32x4.splat(0);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.max(v128.load(p), z));
  }
  for (let i = n4; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, max<f32>(load<f32>(p), 0));
  }
}
