/**
 * What the errors tell a user to do, followed as a user would: the
 * once-per-worker recipe the socket refusal points to works as the README
 * shows it (a real unix socket server, real workers); a value too large for
 * a text serializer is called too large, not a cycle; under 'auto' the
 * error names 'auto', the serializer the user chose.
 */
import net from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, SerializationError, workerState } from 'joblet';
import { rejects, tempDir, withParallel } from './helpers.js';

const recipe = suite('the once-per-worker recipe the socket refusal points to');

recipe('a socket captured is refused with the pointer; made once per worker as the README shows, every task reaches the server', async () => {
  const dir = tempDir();
  const path = join(dir.path, 'log.sock');
  const received: string[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      received.push(...lines);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = net.createConnection(path);
  try {
    await withParallel({ nJobs: 2 }, async (parallel) => {
      const viaCaptured = (line: string) => client.write(`${line}\n`);
      await rejects(parallel.map(viaCaptured, ['a']), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.path, "fn -> captured 'client'");
        assert.match(error.remedy, /One resource per worker/);
        assert.match(error.remedy, /`initializer` option/);
      });
      // The README's recipe: the socket made once per worker by the initializer, read with workerState().
      const initializer = () => ({ log: net.createConnection(path) });
      const send = (line: string) => {
        workerState<{ log: net.Socket }>().log.write(`${line}\n`);
        return line.length;
      };
      const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`);
      assert.equal(await parallel.map(send, lines, { initializer }), lines.map((l) => l.length));
      assert.equal(await parallel.map(send, ['again'], { initializer }), [5]);
      // Wait for the lines to arrive (the event, not the clock): the workers keep their sockets open.
      while (received.length < 41) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal([...received].sort(), [...lines, 'again'].sort());
      // One connection per worker at most (40 tasks on 2 workers, then a second run), and the main thread's `client`.
      assert.ok(connections <= 2 + 1, `${connections} connections for 2 workers`);
    });
  } finally {
    client.destroy();
    server.close();
    dir.remove();
  }
});

recipe.run();

const wording = suite('remedies that match the problem');

wording("a value too large for a text serializer is called too large, and the serializers that carry it are named", async () => {
  // The longest string V8 makes: quoted as JSON, it is past the limit. ('javascript' fails the same way
  // and takes the same path; one serializer keeps the test to one large copy.)
  const big = 'x'.repeat(2 ** 29 - 24);
  for (const serializer of ['json'] as const) {
    await withParallel({ nJobs: 1, serializer, maxNbytes: null }, async (parallel) => {
      await rejects(parallel.run([delayed((text: string) => text.length)(big)]), (error) => {
        assert.instance(error, SerializationError);
        assert.is(error.serializer, serializer);
        assert.match(error.problem, /too large for a serializer that writes text/);
        assert.not.match(error.remedy, /cycle/);
        assert.match(error.remedy, /'auto'.*'structured'/);
      });
    });
  }
});

wording("under 'auto', a refused capture names 'auto', the serializer the user chose", async () => {
  const weak = new WeakRef({});
  await withParallel({ nJobs: 1 }, async (parallel) => {
    await rejects(parallel.run([delayed(() => weak.deref())()]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.serializer, 'auto');
      assert.is(error.path, "fn -> captured 'weak'");
    });
  });
});

wording.run();
