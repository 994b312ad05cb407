// A CommonJS module whose function requires a module lazily, inside its body.
export const lazyJoin = (x: string): string => require('node:path').join('lazy', x);
