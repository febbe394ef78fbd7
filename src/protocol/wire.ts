// The wire protocol: command payload schemas, result types, views, error codes, acks and the Socket.IO event maps.
import { z } from 'zod';
import { MAX_LINE_QUANTITY, SHIPMENT_STATES, type ShippingAddress } from '../domain/types.ts';

// ---------------------------------------------------------------- primitives

export const idSchema = z.string().min(1).max(100).regex(/^[A-Za-z0-9_.:-]+$/, 'an id has only letters, digits and _ . : -');
/** Chosen by the client, unique per intended action: the same requestId again returns the first result. */
export const requestIdSchema = z.string().min(1).max(100).regex(/^[A-Za-z0-9_.:-]+$/, 'a requestId has only letters, digits and _ . : -');

export const shippingAddressSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    line1: z.string().trim().min(1).max(200),
    line2: z.string().trim().max(200).optional(),
    city: z.string().trim().min(1).max(100),
    postalCode: z.string().trim().min(1).max(20),
    country: z.string().regex(/^[A-Z]{2}$/, 'country is an ISO 3166 alpha-2 code such as DE'),
  })
  .strict();

export const cardSchema = z
  .object({
    cardNumber: z.string().regex(/^\d{12,19}$/, 'cardNumber is 12 to 19 digits'),
    expMonth: z.number().int().min(1).max(12),
    expYear: z.number().int().min(2000).max(2100),
    cvc: z.string().regex(/^\d{3,4}$/, 'cvc is 3 or 4 digits'),
  })
  .strict();

/** The simulated payment provider's test cards: this one succeeds... */
export const TEST_CARD_NUMBER = '4242424242424242';
/** ...and this one is declined with `card_declined`. */
export const DECLINED_CARD_NUMBER = '4000000000000002';

// ---------------------------------------------------------------- commands

const empty = z.object({}).strict();

export const storeCommands = {
  /** `requestId` makes creation safe to retry: the same one again answers with the same cart. */
  'cart:create': z.object({ requestId: requestIdSchema.optional() }).strict(),
  'cart:get': z.object({ cartId: idSchema }).strict(),
  'carts:list': empty,
  'cart:addItem': z.object({ cartId: idSchema, productId: idSchema, quantity: z.number().int().min(1).max(MAX_LINE_QUANTITY) }).strict(),
  'cart:setQuantity': z.object({ cartId: idSchema, productId: idSchema, quantity: z.number().int().min(0).max(MAX_LINE_QUANTITY) }).strict(),
  'cart:removeItem': z.object({ cartId: idSchema, productId: idSchema }).strict(),
  'cart:checkout': z.object({ cartId: idSchema, requestId: requestIdSchema, shippingAddress: shippingAddressSchema.optional() }).strict(),
  'order:get': z.object({ orderId: idSchema }).strict(),
  'order:pay': z.object({ orderId: idSchema, requestId: requestIdSchema, payment: cardSchema }).strict(),
  'order:cancel': z.object({ orderId: idSchema }).strict(),
  'orders:list': empty,
  'shipment:get': z.object({ shipmentId: idSchema }).strict(),
  subscribe: z.object({ topic: z.string().min(1).max(200) }).strict(),
  unsubscribe: z.object({ topic: z.string().min(1).max(200) }).strict(),
} as const;

export { SHIPMENT_STATES } from '../domain/types.ts';
export const ADVANCE_TARGETS = ['picking', 'packed', 'shipped', 'inTransit', 'delivered', 'exception', 'cancelled'] as const;

export const warehouseCommands = {
  'shipments:list': z.object({ state: z.enum(SHIPMENT_STATES).optional(), limit: z.number().int().min(1).max(500).optional() }).strict(),
  'shipment:get': z.object({ shipmentId: idSchema }).strict(),
  'shipment:advance': z
    .object({
      shipmentId: idSchema,
      to: z.enum(ADVANCE_TARGETS),
      carrier: z.string().trim().min(1).max(100).optional(),
      trackingNumber: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9-]+$/).optional(),
      reason: z.string().trim().min(1).max(500).optional(),
    })
    .strict(),
  'stock:get': z.object({ productId: idSchema }).strict(),
  'stock:restock': z.object({ productId: idSchema, quantity: z.number().int().min(1).max(1_000_000) }).strict(),
  subscribe: z.object({ topic: z.string().min(1).max(200) }).strict(),
  unsubscribe: z.object({ topic: z.string().min(1).max(200) }).strict(),
} as const;

export type StoreCommandName = keyof typeof storeCommands;
export type WarehouseCommandName = keyof typeof warehouseCommands;
export type StorePayload<C extends StoreCommandName> = z.input<(typeof storeCommands)[C]>;
export type WarehousePayload<C extends WarehouseCommandName> = z.input<(typeof warehouseCommands)[C]>;

// ---------------------------------------------------------------- views

export interface CartLineView {
  readonly productId: string;
  readonly quantity: number;
  readonly unitPrice: number;
  readonly lineTotal: number;
}

export interface CartView {
  readonly id: string;
  readonly version: number;
  readonly state: 'active' | 'checkingOut' | 'checkedOut' | 'expired';
  readonly customerId: string;
  readonly currency: string;
  readonly items: readonly CartLineView[];
  readonly itemCount: number;
  readonly total: number;
  readonly orderId: string | null;
  readonly lastCheckoutError: string | null;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface OrderLineView extends CartLineView {
  readonly name: string;
  readonly sku: string;
}

export type { ShippingAddress } from '../domain/types.ts';

export interface OrderView {
  readonly id: string;
  readonly version: number;
  readonly state: 'awaitingPayment' | 'authorizing' | 'paid' | 'fulfilling' | 'shipped' | 'delivered' | 'cancelled' | 'expired';
  readonly customerId: string;
  readonly cartId: string;
  readonly items: readonly OrderLineView[];
  readonly total: number;
  readonly currency: string;
  readonly shippingAddress: ShippingAddress | null;
  readonly paymentDeadline: number;
  readonly payment: { readonly chargeId: string; readonly amount: number; readonly paidAt: number } | null;
  readonly paymentAttempts: number;
  readonly lastPaymentError: string | null;
  readonly refund: { readonly amount: number; readonly chargeId: string; readonly status: 'pending' | 'refunded'; readonly refundId: string | null } | null;
  readonly shipmentId: string | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly cancelReason: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type ShipmentStateName = (typeof SHIPMENT_STATES)[number];

export interface ShipmentView {
  readonly id: string;
  readonly version: number;
  readonly state: ShipmentStateName;
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderLineView[] | readonly Omit<OrderLineView, 'lineTotal'>[];
  readonly shippingAddress: ShippingAddress | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly exception: { readonly reason: string; readonly from: string } | null;
  readonly history: readonly { readonly state: ShipmentStateName; readonly at: number; readonly note?: string }[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ProductView {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly description: string;
  readonly categoryId: string;
  readonly price: number;
  readonly currency: string;
  /** on_hand - reserved: what can be bought right now. */
  readonly available: number;
  /** Rises with every stock change; compare it to drop stale `stock:changed` pushes. */
  readonly stockVersion: number;
  readonly imageUrl: string | null;
}

/** Pushed to `product:<id>` after every committed stock change. */
export interface StockChanged {
  readonly productId: string;
  readonly available: number;
  readonly onHand: number;
  /** The product's stock version: drop a push whose version is not above the one you hold. */
  readonly version: number;
}

/** What `subscribe` answers: the topic's current view, to start from and compare push versions against. */
export type TopicView =
  | { readonly topic: `cart:${string}`; readonly view: CartView }
  | { readonly topic: `order:${string}`; readonly view: OrderView }
  | { readonly topic: `shipment:${string}`; readonly view: ShipmentView }
  | { readonly topic: `product:${string}`; readonly view: ProductView & { readonly version: number } }
  | { readonly topic: 'shipments'; readonly view: { readonly shipments: readonly ShipmentView[] } };

// ---------------------------------------------------------------- acks and errors

export type ErrorCode =
  | 'VALIDATION'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'INVALID_TRANSITION'
  | 'OUT_OF_STOCK'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: unknown;
}

export type Ack<T> = { readonly ok: true; readonly data: T } | { readonly ok: false; readonly error: ErrorBody };

export interface StoreResults {
  'cart:create': { cart: CartView };
  'cart:get': { cart: CartView };
  'carts:list': { carts: CartView[] };
  'cart:addItem': { cart: CartView };
  'cart:setQuantity': { cart: CartView };
  'cart:removeItem': { cart: CartView };
  'cart:checkout': { order: OrderView };
  'order:get': { order: OrderView };
  'order:pay': { order: OrderView };
  'order:cancel': { order: OrderView };
  'orders:list': { orders: OrderView[] };
  'shipment:get': { shipment: ShipmentView };
  subscribe: TopicView;
  unsubscribe: { topic: string };
}

export interface WarehouseResults {
  'shipments:list': { shipments: ShipmentView[] };
  'shipment:get': { shipment: ShipmentView };
  'shipment:advance': { shipment: ShipmentView };
  'stock:get': { stock: StockChanged };
  'stock:restock': { stock: StockChanged };
  subscribe: TopicView;
  unsubscribe: { topic: string };
}

// ---------------------------------------------------------------- Socket.IO event maps

export type StoreClientToServer = {
  [C in StoreCommandName]: (payload: StorePayload<C>, ack: (response: Ack<StoreResults[C]>) => void) => void;
};

export type WarehouseClientToServer = {
  [C in WarehouseCommandName]: (payload: WarehousePayload<C>, ack: (response: Ack<WarehouseResults[C]>) => void) => void;
};

export interface ServerToClient {
  'cart:updated': (cart: CartView) => void;
  'order:updated': (order: OrderView) => void;
  'shipment:updated': (shipment: ShipmentView) => void;
  'stock:changed': (stock: StockChanged) => void;
  /** Pushes may have been lost (a cluster link was down): subscribe again to every topic to converge. */
  resync: (info: { reason: string }) => void;
}
