// Compiled by tsc for ES2015 and CommonJS (test/legacy/tsconfig.json): async functions
// become __awaiter calls and imports become __importDefault/__importStar calls, the
// helpers a closure serializer must carry along.
import * as path from 'node:path';
import os from 'node:os';

const suffix = '-legacy';

export async function joinLater(a: string, b: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return path.join(a, b) + suffix;
}

export class Greeter {
  constructor(private readonly name: string) {}
  async greet(): Promise<string> {
    const eol = os.EOL.length;
    return `hello ${this.name}${suffix}:${eol}`;
  }
}
