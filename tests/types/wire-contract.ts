// Type tests, run by `npm run typecheck` (tsc), never executed: the compiler holds the wire contract. Each
// `@ts-expect-error` line must fail to compile; if a change makes one of them compile, typecheck fails.
import { command } from '../../src/kernel/gateway/commands.ts';
import type { AppNamespace } from '../../src/kernel/gateway/io-types.ts';
import { storeCommandTable, type StoreCommandTable, type StoreContext } from '../../src/modules/store-commands.ts';
import { warehouseCommandTable, type WarehouseCommandTable } from '../../src/modules/warehouse-commands.ts';
import type { Push } from '../../src/kernel/gateway/pushes.ts';
import { storeCommands, type warehouseCommands, type CartView, type StoreResults } from '../../src/protocol/index.ts';
import type { Services } from '../../src/modules/services.ts';

declare const services: Services;
declare const cart: CartView;
declare const namespace: AppNamespace;

// The real tables satisfy the protocol.
export const store: StoreCommandTable = storeCommandTable(services);
export const warehouse: WarehouseCommandTable = warehouseCommandTable(services);

// A handler answering the protocol's shape is accepted...
export const getCart: StoreCommandTable['cart:get'] = command(storeCommands['cart:get'], async () => ({ cart }));

// ...one answering another shape is not.
// @ts-expect-error `cart:get` answers `{ cart: CartView }`, not `{ carts: 42 }`
export const wrongResult: StoreCommandTable['cart:get'] = command(storeCommands['cart:get'], async () => ({ carts: 42 }));

// A handler must be validated by its own command's schema (the payload it receives is that schema's output).
// @ts-expect-error `cart:get` is not validated with the `order:get` schema
export const wrongSchema: StoreCommandTable['cart:get'] = command(storeCommands['order:get'], async () => ({ cart }));

// A table missing a command of the protocol is rejected.
const { 'cart:get': _removed, ...withoutCartGet } = store;
// @ts-expect-error the protocol's `cart:get` has no handler
export const missing: StoreCommandTable = withoutCartGet;

// A renamed command is rejected: the new name is not in the protocol (and the old one is then missing).
export const renamed = {
  ...withoutCartGet,
  // @ts-expect-error `cart:fetch` is not a command of the protocol
  'cart:fetch': store['cart:get'],
} satisfies StoreCommandTable;

// A /store table cannot serve as the /warehouse one.
// @ts-expect-error the store table lacks the warehouse's commands
export const swapped: WarehouseCommandTable = store;

// Results come from the protocol, the single source the SDK reads too.
export const result: StoreResults['cart:checkout']['order']['state'] = 'awaitingPayment';
// @ts-expect-error not an order state
export const notAState: StoreResults['cart:checkout']['order']['state'] = 'shipped-ish';

// Pushes: the payload is typed by the event.
export const cartPush: Push = { audiences: ['store'], topics: ['cart:1'], event: 'cart:updated', payload: () => [cart] };
// @ts-expect-error `stock:changed` carries a StockChanged, not a cart
export const wrongPush: Push = { audiences: ['store'], topics: ['product:1'], event: 'stock:changed', payload: () => [cart] };
// @ts-expect-error no such push event
export const unknownPush: Push = { audiences: ['store'], topics: ['cart:1'], event: 'cart:changed', payload: () => [cart] };

// The typed server: emits are checked against the protocol's ServerToClient map.
namespace.to('cart:1').emit('cart:updated', cart);
// @ts-expect-error `order:updated` carries an OrderView
namespace.to('order:1').emit('order:updated', cart);
// @ts-expect-error no such event on the wire
namespace.to('cart:1').emit('cart:changed', cart);

// Unused on purpose: only the types matter.
export type Unused = [typeof warehouseCommands, StoreContext];
