// A CommonJS module (compiled by tsc) whose top-level `let` two of its functions share: the
// module's wrapper runs once, so `bump` and `current` close over one binding.
let hits = 0;
const bump = () => ++hits;
const current = () => hits;
export const tally = () => {
  bump();
  bump();
  return current();
};
