/**
 * A payload to choose a serializer for: dates, a class instance, an optional field left
 * undefined, a Map, and a function that captures a rate. Its default export is what
 * `joblet compare` reads:
 *
 *   npx joblet compare dist/examples/data/orders.js
 */
export class Money {
  constructor(
    readonly amount: number,
    readonly currency: string,
  ) {}
  add(other: Money): Money {
    return new Money(this.amount + other.amount, this.currency);
  }
}

const vatRate = 0.2;
const order = (id: number, day: number, amount: number) => ({
  id,
  placedAt: new Date(Date.UTC(2024, 2, day)),
  total: new Money(amount, 'EUR'),
  note: undefined as string | undefined,
});

export default {
  orders: [order(1, 4, 12.5), order(2, 5, 40), order(3, 9, 7.25)],
  discounts: new Map([['SPRING', 0.1]]),
  withVat: (m: Money) => m.amount * (1 + vatRate),
};
