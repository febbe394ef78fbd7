// Sortable, prefixed identifiers: the prefix says what it names, the UUIDv7 body sorts by creation time.
import { v7 as uuidv7 } from 'uuid';

export type IdPrefix = 'cart' | 'order' | 'ship' | 'cus' | 'guest' | 'prod' | 'chg' | 're' | 'tok' | 'addr' | 'gone' | 'rev' | 'offer';

/** @example newId('cart') // 'cart_0193b0c4d2f87c3a9e1b5d6f7a8b9c0d' */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${uuidv7().replaceAll('-', '')}`;
}

/** The shipment of an order has an id derived from the order's, so creating it twice creates one. */
export function shipmentIdFor(orderId: string): string {
  return `ship_${orderId.slice(orderId.indexOf('_') + 1)}`;
}
