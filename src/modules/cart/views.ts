// What clients see of a cart (every view has id, version, state).
import { pricedLineView } from '../../domain/types.ts';
import type { CartView } from '../../protocol/index.ts';
import type { CartActor } from './cart.kind.ts';

export function cartView(actor: CartActor): CartView {
  const c = actor.snapshot.context;
  const items = c.items.map(pricedLineView);
  return {
    id: actor.id,
    version: actor.version,
    state: actor.state as CartView['state'],
    customerId: c.customerId,
    currency: c.currency,
    items,
    itemCount: c.items.reduce((n, line) => n + line.quantity, 0),
    total: items.reduce((sum, line) => sum + line.lineTotal, 0),
    orderId: c.checkout?.orderId ?? null,
    lastCheckoutError: c.lastCheckoutError,
    expiresAt: c.expiresAt,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}
