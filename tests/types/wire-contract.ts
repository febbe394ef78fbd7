// Type tests, run by `npm run typecheck` (tsc), never executed: the compiler holds the wire contract. Each
// `@ts-expect-error` line must fail to compile; if a change makes one of them compile, typecheck fails.
import { command } from '../../src/kernel/gateway/commands.ts';
import type { AppNamespace } from '../../src/kernel/gateway/io-types.ts';
import type { Push } from '../../src/kernel/gateway/pushes.ts';
import { defineModule, type CoversProtocol, type StoreCommandTable, type WarehouseCommandTable } from '../../src/kernel/module.ts';
import type { cartModule } from '../../src/modules/cart/index.ts';
import type { catalogModule } from '../../src/modules/catalog/index.ts';
import type { defaultModules } from '../../src/modules/index.ts';
import type { identityModule } from '../../src/modules/identity/index.ts';
import type { inventoryModule } from '../../src/modules/inventory/index.ts';
import type { orderModule } from '../../src/modules/order/index.ts';
import type { shipmentModule } from '../../src/modules/shipment/index.ts';
import type { StoreConnection } from '../../src/client/index.ts';
import { pushTopics, storeCommands, warehouseCommands, type CartView, type StoreResults } from '../../src/protocol/index.ts';

declare const cart: CartView;
declare const namespace: AppNamespace;

// The application's modules handle every command of the protocol, in both namespaces...
export const covered: CoversProtocol<ReturnType<typeof defaultModules>> = true;
// ...and without the cart module they do not (`cart:get`, `cart:addItem`, … have no handler).
// @ts-expect-error the cart module's commands are missing
export const withoutCart: CoversProtocol<
  readonly [typeof catalogModule, typeof inventoryModule, typeof identityModule, ReturnType<typeof orderModule>, typeof shipmentModule]
> = true;
// Nor without the shipment module (the warehouse's `shipment:advance`, say).
// @ts-expect-error the shipment module's commands are missing
export const withoutShipment: CoversProtocol<
  readonly [typeof catalogModule, typeof inventoryModule, typeof identityModule, typeof cartModule, ReturnType<typeof orderModule>]
> = true;

// A handler answering the protocol's shape is accepted...
export const getCart: StoreCommandTable['cart:get'] = command(storeCommands['cart:get'], async () => ({ cart }));

// ...one answering another shape is not, as a table entry...
// @ts-expect-error `cart:get` answers `{ cart: CartView }`, not `{ carts: 42 }`
export const wrongResult: StoreCommandTable['cart:get'] = command(storeCommands['cart:get'], async () => ({ carts: 42 }));

// ...nor inside a module: defineModule checks every command a module serves against the protocol.
export const wrongInModule = defineModule({
  name: 'wrong',
  create: () => ({
    commands: {
      store: {
        // @ts-expect-error `cart:get` answers `{ cart: CartView }`
        'cart:get': command(storeCommands['cart:get'], async () => ({ carts: 42 })),
      },
    },
  }),
});

// A handler must be validated by its own command's schema (the payload it receives is that schema's output).
// @ts-expect-error `cart:get` is not validated with the `order:get` schema
export const wrongSchema: StoreCommandTable['cart:get'] = command(storeCommands['order:get'], async () => ({ cart }));

// A renamed command is rejected: the new name is not in the protocol.
export const renamed = {
  // @ts-expect-error `cart:fetch` is not a command of the protocol
  'cart:fetch': getCart,
} satisfies Partial<StoreCommandTable>;

// A /store command cannot be served on /warehouse.
export const swapped = {
  // @ts-expect-error `cart:get` is not a warehouse command
  'cart:get': getCart,
} satisfies Partial<WarehouseCommandTable>;
export const advance: WarehouseCommandTable['shipment:advance']['schema'] = warehouseCommands['shipment:advance'];

// Results come from the protocol, the single source the SDK reads too.
export const result: StoreResults['cart:checkout']['order']['state'] = 'awaitingPayment';
// @ts-expect-error not an order state
export const notAState: StoreResults['cart:checkout']['order']['state'] = 'shipped-ish';

// Pushes: the payload is typed by the event.
export const cartPush: Push = { topics: ['cart:1'], event: 'cart:updated', payload: () => [cart] };
// @ts-expect-error `stock:changed` carries a StockChanged, not a cart
export const wrongPush: Push = { topics: ['product:1'], event: 'stock:changed', payload: () => [cart] };
// @ts-expect-error no such push event
export const unknownPush: Push = { topics: ['cart:1'], event: 'cart:changed', payload: () => [cart] };

// The typed server: emits are checked against the protocol's ServerToClient map.
namespace.to('cart:1').emit('cart:updated', cart);
// @ts-expect-error `order:updated` carries an OrderView
namespace.to('order:1').emit('order:updated', cart);
// @ts-expect-error no such event on the wire
namespace.to('cart:1').emit('cart:changed', cart);

// Personal pushes (`PERSONAL_EVENTS`) go to a principal's own room: typed like any push...
export const personalPush: Push = {
  topics: ['~principal:cus_1'],
  event: 'stock:backInStock',
  payload: () => [{ productId: 'prod_1', name: 'Lamp', available: 3 }],
};
// @ts-expect-error `stock:backInStock` carries a BackInStock, not a cart
export const wrongPersonalPush: Push = { topics: ['~principal:cus_1'], event: 'stock:backInStock', payload: () => [cart] };
// ...but they name no topic: the topic table has no entry for them.
// @ts-expect-error a personal event has no topics
export const noTopics = pushTopics['stock:backInStock'];
// The SDK hands them to `on(event, handler)`, typed by the event; topic pushes go through `subscribe()` instead.
declare const store: StoreConnection;
export const stopListening: () => void = store.on('stock:backInStock', (notice) => {
  notice.available satisfies number;
});
// @ts-expect-error `stock:changed` is a topic's push: follow `product:<id>` with subscribe()
store.on('stock:changed', () => undefined);
export const notify: StoreCommandTable['stock:notify'] = command(storeCommands['stock:notify'], async (_ctx, p) => ({
  productId: p.productId,
  subscribed: true,
}));
