// The host's clock: WASI 0.2's monotonic clock (wit/deps/clocks), the one import of the component.

// @ts-ignore: decorator
@external("wasi:clocks/monotonic-clock@0.2.0", "now")
declare function monotonicNow(): u64;

/** Nanoseconds since an arbitrary point. */
export function now(): u64 {
  return monotonicNow();
}
