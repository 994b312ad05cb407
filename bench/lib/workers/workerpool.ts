/** workerpool's worker for bench/dispatch/: the method `inc` that `pool.exec('inc', [x])` calls. */
import workerpool from 'workerpool';

workerpool.worker({ inc: (x: number) => x + 1 });
