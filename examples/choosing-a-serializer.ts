/**
 * Choosing a serializer with numbers: compareSerializers encodes a value with each
 * registered serializer, rebuilds it in a real worker thread, and reports what each one
 * changed (a Date that became a string, a lost prototype, a dropped undefined, a lost
 * captured variable), with bytes and times. The command line does the same for a module's
 * default export: `npx joblet compare dist/examples/data/orders.js` (`--json` for JSON).
 *
 * Run: npm run build && node dist/examples/choosing-a-serializer.js
 */
import { compareSerializers, formatComparisonTable } from 'joblet';
import orders from './data/orders.js';

// Data only first: what each serializer does to dates, a class instance, undefined and a Map.
const { withVat, ...data } = orders;
console.log('The orders, data only:\n');
console.log(formatComparisonTable(await compareSerializers(data)));

// Then with the function that captures vatRate: only 'closure' and 'auto' carry it whole.
console.log('\nThe orders with withVat, which captures vatRate:\n');
const rows = await compareSerializers(orders);
console.log(formatComparisonTable(rows));
const carried = rows.filter((row) => row.ok && !row.fidelity?.some((d) => d.text.includes('captured'))).map((row) => row.serializer);
console.log(`\nCarried withVat with its captured variable: ${carried.join(', ')}`);
void withVat;
