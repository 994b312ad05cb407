/** One step from a container to a child, kept unformatted until an error needs it. */
export type PathStep =
  | { kind: 'index'; index: number }
  | { kind: 'key'; key: string }
  | { kind: 'mapKey'; position: number }
  | { kind: 'mapValue'; key: unknown }
  | { kind: 'setItem'; position: number };

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function formatMapKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number' || typeof key === 'boolean' || key === null || key === undefined) return String(key);
  if (typeof key === 'bigint') return `${key}n`;
  return `<${typeof key}>`;
}

export function formatStep(step: PathStep): string {
  switch (step.kind) {
    case 'index':
      return `[${step.index}]`;
    case 'key':
      return IDENTIFIER.test(step.key) ? `.${step.key}` : `[${JSON.stringify(step.key)}]`;
    case 'mapKey':
      return `<Map key #${step.position}>`;
    case 'mapValue':
      return `.get(${formatMapKey(step.key)})`;
    case 'setItem':
      return `<Set item #${step.position}>`;
  }
}

export function formatPath(root: string, steps: readonly PathStep[]): string {
  let out = root;
  for (const step of steps) out += formatStep(step);
  return out;
}

/** Join a root name with a path a codec reported relative to it (`[0].x`). */
export function joinPath(root: string, relative: string): string {
  if (!relative) return root;
  // A path through a function's captures: `fn -> captured 'db' -> .pool`.
  if (relative.startsWith(' -> ')) return root + relative;
  return relative.startsWith('[') || relative.startsWith('.') ? root + relative : `${root}.${relative}`;
}
