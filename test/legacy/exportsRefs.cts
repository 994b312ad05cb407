// Compiled by tsc to CommonJS (test/legacy/tsconfig.json): every same-module reference to an
// export becomes `exports.x`, so a function that uses one captures the module's `exports`.
export const base = 10;
// A live object among the exports: copying `exports` by value is refused because of it.
export const seen = new WeakSet<object>();
export function addBase(x: number): number {
  return x + base;
}
export function remember(x: number): boolean {
  const key = { x };
  seen.add(key);
  return seen.has(key) && addBase(x) > base;
}
