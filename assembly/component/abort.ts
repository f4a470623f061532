// The component's abort handler (asconfig.json target "component", `use`): the core module imports
// nothing but the clock, so AssemblyScript's `env.abort` is replaced by a trap. Only an internal
// bug reaches it: bad input is an `error` result (assembly/component/index.ts).

export function componentAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}
