// The /store namespace: a customer's carts, orders and shipments, and live topics to follow them.
import type { AppSocket } from '../kernel/gateway/io-types.ts';
import { storeCommands, type StoreResults, type TopicView } from '../protocol/index.ts';
import { AppError } from '../domain/errors.ts';
import type { Identity } from '../domain/identity.ts';
import type { Services } from './services.ts';
import { cartView, orderView, shipmentView } from './views.ts';
import { command, type ProtocolTable } from '../kernel/gateway/commands.ts';
import { productTopicView, subscribeTopic, unsubscribeTopic } from '../kernel/gateway/topics.ts';

export interface StoreContext {
  readonly identity: Identity;
  readonly socket: AppSocket;
}

/** Resolves a topic a customer may follow to its current view; throws FORBIDDEN/NOT_FOUND otherwise. */
async function storeTopicView(services: Services, identity: Identity, kind: string, id: string, topic: string): Promise<TopicView> {
  switch (kind) {
    case 'cart':
      return { topic: `cart:${id}`, view: cartView(await services.carts.get(identity, id)) };
    case 'order':
      return { topic: `order:${id}`, view: orderView(await services.orders.get(identity, id)) };
    case 'shipment':
      return { topic: `shipment:${id}`, view: shipmentView(await services.shipments.get(identity, id)) };
    case 'product':
      return { topic: `product:${id}`, view: await productTopicView(services, id) };
    default:
      throw new AppError('VALIDATION', `unknown topic ${JSON.stringify(topic)}; use cart:<id>, order:<id>, shipment:<id> or product:<id>`);
  }
}

/** Every `/store` command of the protocol, with its handler. */
export type StoreCommandTable = ProtocolTable<StoreContext, typeof storeCommands, StoreResults>;

export function storeCommandTable(services: Services): StoreCommandTable {
  const c = storeCommands;
  return {
    'cart:create': command(c['cart:create'], async ({ identity }, p) => ({ cart: cartView(await services.carts.create(identity, p.requestId)) })),
    'cart:get': command(c['cart:get'], async ({ identity }, p) => ({ cart: cartView(await services.carts.get(identity, p.cartId)) })),
    'carts:list': command(c['carts:list'], async ({ identity }) => ({ carts: (await services.carts.listOwn(identity)).map(cartView) })),
    'cart:addItem': command(c['cart:addItem'], async ({ identity }, p) => ({
      cart: cartView(await services.carts.addItem(identity, p.cartId, p.productId, p.quantity)),
    })),
    'cart:setQuantity': command(c['cart:setQuantity'], async ({ identity }, p) => ({
      cart: cartView(await services.carts.setQuantity(identity, p.cartId, p.productId, p.quantity)),
    })),
    'cart:removeItem': command(c['cart:removeItem'], async ({ identity }, p) => ({
      cart: cartView(await services.carts.removeItem(identity, p.cartId, p.productId)),
    })),
    'cart:checkout': command(c['cart:checkout'], async ({ identity }, p) => ({
      order: orderView(await services.checkout.checkout(identity, p.cartId, p.requestId, p.shippingAddress ?? null)),
    })),
    'order:get': command(c['order:get'], async ({ identity }, p) => ({ order: orderView(await services.orders.get(identity, p.orderId)) })),
    'order:pay': command(c['order:pay'], async ({ identity }, p) => ({
      order: orderView(
        await services.orders.pay(identity, p.orderId, p.requestId, {
          number: p.payment.cardNumber,
          expMonth: p.payment.expMonth,
          expYear: p.payment.expYear,
          cvc: p.payment.cvc,
        }),
      ),
    })),
    'order:cancel': command(c['order:cancel'], async ({ identity }, p) => ({ order: orderView(await services.orders.cancel(identity, p.orderId)) })),
    'orders:list': command(c['orders:list'], async ({ identity }) => ({ orders: (await services.orders.list(identity)).map(orderView) })),
    'shipment:get': command(c['shipment:get'], async ({ identity }, p) => ({
      shipment: shipmentView(await services.shipments.get(identity, p.shipmentId)),
    })),
    subscribe: command(c.subscribe, ({ identity, socket }, p) =>
      subscribeTopic(socket, p.topic, (kind, id) => storeTopicView(services, identity, kind, id, p.topic)),
    ),
    unsubscribe: command(c.unsubscribe, ({ socket }, p) => unsubscribeTopic(socket, p.topic)),
  } satisfies StoreCommandTable;
}
