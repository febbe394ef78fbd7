// The wire protocol: command payload schemas, result types, views, error codes, acks and the Socket.IO event maps.
import { z } from 'zod';
import { MAX_LINE_QUANTITY, SHIPMENT_STATES } from '../domain/types.ts';
import {
  ORDER_STATES,
  OFFER_STATES,
  actorChangedSchema,
  actorSummarySchema,
  addressViewSchema,
  inspectorSummarySchema,
  machineGraphSchema,
  outboxRowViewSchema,
  snapshotCheckSchema,
  timelineEntrySchema,
  backInStockSchema,
  offerRemainingSchema,
  offerViewSchema,
  cartViewSchema,
  categoryViewSchema,
  ratingChangedSchema,
  recommendationsUpdatedSchema,
  reviewViewSchema,
  orderViewSchema,
  productViewSchema,
  shipmentViewSchema,
  stockChangedSchema,
  topicViewSchema,
  type ActorChanged,
  type BackInStock,
  type CartView,
  type OfferRemaining,
  type OfferView,
  type OrderView,
  type ProductView,
  type RatingChanged,
  type RecommendationsUpdated,
  type ShipmentView,
  type StockChanged,
} from './views.ts';

// ---------------------------------------------------------------- primitives

/**
 * Whether `value` holds a control character: C0 (U+0000–U+001F) or DEL (U+007F); with `lineBreaks`, tab, line feed
 * and carriage return are allowed.
 */
function hasControlCharacter(value: string, lineBreaks: boolean): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x7f || (c < 0x20 && !(lineBreaks && (c === 0x09 || c === 0x0a || c === 0x0d)))) return true;
  }
  return false;
}

/**
 * A one-line text input (a name, a title, an address line, a search, a label, a cursor): a string without control
 * characters. NUL would cut it short (C libraries, search engines) or be refused by PostgreSQL, the others are
 * invisible; such input is refused with `VALIDATION` naming the field, never stripped. Every text field of the
 * protocol is built from this or {@link freeText} (ids, SKUs and slugs have patterns that allow none either);
 * passwords are not (they are hashed, never shown or searched).
 */
export function lineText(): z.ZodString {
  return z.string().refine((value) => !hasControlCharacter(value, false), { message: 'control characters (NUL, line breaks, …) are not allowed', abort: true });
}

/** Free text that may run over lines (a review's body, a description, a reason): as {@link lineText}, but tab, line feed and carriage return are allowed. */
export function freeText(): z.ZodString {
  return z
    .string()
    .refine((value) => !hasControlCharacter(value, true), { message: 'control characters other than tab and line breaks are not allowed', abort: true });
}

export const idSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'an id has only letters, digits and _ . : -');
/** Chosen by the client, unique per intended action: the same requestId again returns the first result. */
export const requestIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'a requestId has only letters, digits and _ . : -');

export const shippingAddressSchema = z
  .object({
    name: lineText().trim().min(1).max(200),
    line1: lineText().trim().min(1).max(200),
    line2: lineText().trim().max(200).optional(),
    city: lineText().trim().min(1).max(100),
    postalCode: lineText().trim().min(1).max(20),
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
  'orders:list': z
    .object({
      state: z.enum(ORDER_STATES).optional(),
      limit: z.number().int().min(1).max(100).optional().describe('default 50'),
      before: lineText().min(1).max(200).optional().describe("the previous page's nextCursor"),
    })
    .strict(),
  'shipment:get': z.object({ shipmentId: idSchema }).strict(),
  'addresses:list': empty,
  'address:save': shippingAddressSchema
    .extend({
      id: idSchema.optional().describe('the address to replace; absent to add one'),
      label: lineText().trim().max(60).optional().describe('"Home", "Office"…'),
      makeDefault: z.boolean().optional(),
    })
    .strict(),
  'address:delete': z.object({ addressId: idSchema }).strict(),
  'review:create': z
    .object({
      productId: idSchema,
      rating: z.number().int().min(1).max(5),
      title: lineText().trim().min(1).max(120),
      body: freeText().trim().max(5_000).default(''),
    })
    .strict(),
  'review:update': z
    .object({
      reviewId: idSchema,
      rating: z.number().int().min(1).max(5).optional(),
      title: lineText().trim().min(1).max(120).optional(),
      body: freeText().trim().max(5_000).optional(),
    })
    .strict(),
  'review:delete': z.object({ reviewId: idSchema }).strict(),
  'review:vote': z.object({ reviewId: idSchema }).strict().describe('"this review was helpful", once per customer'),
  'stock:notify': z.object({ productId: idSchema }).strict().describe('tell me once when this sold-out product can be bought again'),
  'stock:unnotify': z.object({ productId: idSchema }).strict(),
  'stock:notifications': empty.describe('the products you asked about with stock:notify and have not been told about yet'),
  subscribe: z.object({ topic: lineText().min(1).max(200) }).strict(),
  unsubscribe: z.object({ topic: lineText().min(1).max(200) }).strict(),
} as const;

export { SHIPMENT_STATES } from '../domain/types.ts';
export const ADVANCE_TARGETS = ['picking', 'packed', 'shipped', 'inTransit', 'delivered', 'exception', 'cancelled'] as const;

/** A category's or a product's stable, readable key in URLs and import files. */
export const slugSchema = lineText()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'lowercase letters and digits, words joined by single hyphens');

/** A category, created or changed by its slug; `parent` (a slug, or null for a top-level category) places it in the tree. */
export const categoryInputSchema = z
  .object({
    slug: slugSchema,
    name: lineText().trim().min(1).max(200),
    description: freeText().trim().max(2_000).optional(),
    parent: slugSchema.nullable().optional().describe("the parent category's slug; null or absent for a top-level category"),
    position: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict();

const attributeKey = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,39}$/, 'letters, digits and underscores, starting with a letter');
const attributeValue = z.union([lineText().trim().max(200), z.number().finite(), z.boolean()]);

/** A product, created or changed by its SKU. Its stock is the warehouse's (`stock:restock`), not set here. */
export const productInputSchema = z
  .object({
    sku: lineText()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dots, underscores and hyphens (at most 64)'),
    name: lineText().trim().min(1).max(200),
    description: freeText().trim().max(5_000).optional(),
    price: z.number().int().min(0).max(100_000_000).describe('integer minor units of `currency`'),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR')
      .default('EUR'),
    category: lineText().trim().min(1).max(64).describe("the category's slug (or id)"),
    images: z.array(lineText().trim().url().max(500)).max(10).optional(),
    attributes: z
      .record(attributeKey, attributeValue)
      .refine((attributes) => Object.keys(attributes).length <= 30, 'at most 30 attributes')
      .optional(),
    expectedVersion: z.number().int().min(0).optional().describe('refuse with CONFLICT unless the product is at this version (lost-update guard for editors)'),
  })
  .strict();

const offerTimes = {
  name: lineText().trim().min(1).max(200),
  startsAt: z.number().int().min(0).describe('epoch milliseconds'),
};
const saleFields = z
  .object({
    sort: z.literal('sale'),
    ...offerTimes,
    endsAt: z.number().int().min(0).describe('epoch milliseconds; after startsAt'),
    discount: z.discriminatedUnion('type', [
      z.object({ type: z.literal('percent'), percent: z.number().int().min(1).max(100) }).strict(),
      z
        .object({
          type: z.literal('amount'),
          amount: z.number().int().min(1).max(100_000_000).describe('minor units; at most the price of every product it covers'),
        })
        .strict(),
    ]),
    productIds: z.array(idSchema).max(500).default([]),
    categoryIds: z.array(lineText().trim().min(1).max(64)).max(50).default([]).describe('categories by id or slug; each includes its sub-categories'),
  })
  .strict();
const dropFields = z
  .object({
    sort: z.literal('drop'),
    ...offerTimes,
    endsAt: z.number().int().min(0).nullable().optional().describe('epoch milliseconds, after startsAt; absent or null: until sold out or cancelled'),
    productId: idSchema,
    dropPrice: z.number().int().min(0).max(100_000_000).describe("minor units; below the product's price"),
    quota: z.number().int().min(1).max(1_000_000),
    perCustomerLimit: z.number().int().min(1).max(MAX_LINE_QUANTITY),
  })
  .strict();
type OfferFields = z.output<typeof saleFields> | z.output<typeof dropFields>;
/** What the payload alone can tell: an end after the start, and a sale that covers something. */
function offerShape(offer: OfferFields, ctx: z.RefinementCtx): void {
  if (offer.endsAt !== undefined && offer.endsAt !== null && offer.endsAt <= offer.startsAt) {
    ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'endsAt must be after startsAt' });
  }
  if (offer.sort === 'sale' && offer.productIds.length === 0 && offer.categoryIds.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['productIds'], message: 'a sale covers at least one product or category' });
  }
}
/** A new offer: a festival sale or a limited drop. */
export const offerInputSchema = z.discriminatedUnion('sort', [saleFields, dropFields]).superRefine(offerShape);
/** New terms for a scheduled offer (refused once it has started). */
export const offerUpdateSchema = z
  .discriminatedUnion('sort', [saleFields.extend({ offerId: idSchema }).strict(), dropFields.extend({ offerId: idSchema }).strict()])
  .superRefine(offerShape);

export const warehouseCommands = {
  'shipments:list': z.object({ state: z.enum(SHIPMENT_STATES).optional(), limit: z.number().int().min(1).max(500).optional() }).strict(),
  'shipment:get': z.object({ shipmentId: idSchema }).strict(),
  'shipment:advance': z
    .object({
      shipmentId: idSchema,
      to: z.enum(ADVANCE_TARGETS),
      carrier: lineText().trim().min(1).max(100).optional(),
      trackingNumber: lineText()
        .trim()
        .min(1)
        .max(100)
        .regex(/^[A-Za-z0-9-]+$/)
        .optional(),
      reason: freeText().trim().min(1).max(500).optional(),
    })
    .strict(),
  'stock:get': z.object({ productId: idSchema }).strict(),
  'stock:restock': z.object({ productId: idSchema, quantity: z.number().int().min(1).max(1_000_000) }).strict(),
  'catalog:upsertCategory': categoryInputSchema,
  'catalog:upsertProduct': productInputSchema,
  'catalog:archiveProduct': z.object({ productId: idSchema }).strict(),
  'review:hide': z.object({ reviewId: idSchema, reason: freeText().trim().min(1).max(500) }).strict(),
  'offer:create': offerInputSchema,
  'offer:update': offerUpdateSchema,
  'offer:cancel': z.object({ offerId: idSchema, reason: freeText().trim().min(1).max(500).optional() }).strict(),
  'offers:list': z
    .object({ state: z.enum(OFFER_STATES).optional(), limit: z.number().int().min(1).max(500).optional().describe('default 100') })
    .strict()
    .describe('newest first'),
  'inspect:summary': empty.describe('how many actors of each kind are in each state'),
  'inspect:actors': z
    .object({
      kind: lineText().min(1).max(16).optional(),
      state: lineText().min(1).max(64).optional(),
      q: lineText().trim().min(1).max(100).optional().describe('an id prefix, or an owner id (exact)'),
      limit: z.number().int().min(1).max(200).optional().describe('default 50'),
      before: lineText().min(1).max(300).optional().describe("the previous page's nextCursor"),
    })
    .strict()
    .describe('newest first'),
  'inspect:actor': z
    .object({ id: idSchema, limit: z.number().int().min(1).max(5000).optional().describe('at most this many journal entries, the newest; default 1000') })
    .strict(),
  'inspect:replay': z.object({ id: idSchema, version: z.number().int().min(1) }).strict(),
  'inspect:deliveries': z
    .object({ id: idSchema, limit: z.number().int().min(1).max(1000).optional().describe('at most this many outbox rows, the newest; default 200') })
    .strict(),
  'inspect:retry': z
    .object({ seq: z.number().int().min(1), flow: lineText().min(1).max(64) })
    .strict()
    .describe('admins only: requeue one parked delivery'),
  subscribe: z.object({ topic: lineText().min(1).max(200) }).strict(),
  unsubscribe: z.object({ topic: lineText().min(1).max(200) }).strict(),
} as const;

export type StoreCommandName = keyof typeof storeCommands;
export type WarehouseCommandName = keyof typeof warehouseCommands;
export type StorePayload<C extends StoreCommandName> = z.input<(typeof storeCommands)[C]>;
export type WarehousePayload<C extends WarehouseCommandName> = z.input<(typeof warehouseCommands)[C]>;

// ---------------------------------------------------------------- views (defined in views.ts)

export * from './views.ts';
export type { ShippingAddress } from '../domain/types.ts';

// ---------------------------------------------------------------- acks and errors

export const ERROR_CODES = [
  'VALIDATION',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'INVALID_TRANSITION',
  'OUT_OF_STOCK',
  'SOLD_OUT',
  'LIMIT_REACHED',
  'CONFLICT',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: unknown;
}

export type Ack<T> = { readonly ok: true; readonly data: T } | { readonly ok: false; readonly error: ErrorBody };

/**
 * The rules a refusal names in `details.reason`, beside its error code: what a client can branch on without
 * reading the message (docs/PROTOCOL.md §3.4 lists them with their codes). Each is stated once where the rule lives (a machine's refusal, a service's check); the
 * actor kinds' refusals are checked against this list by the compiler.
 */
export const REFUSAL_REASONS = {
  // carts
  CART_NOT_ACTIVE: 'the cart is checking out, checked out or expired',
  CART_EXPIRED: 'the cart is past its expiry (the sweep has not expired it yet)',
  CART_EMPTY: 'a checkout of a cart with no lines',
  MALFORMED_LINE: 'a quantity or price that is not a whole number in range',
  QUANTITY_LIMIT: 'a line would pass the units a line may hold',
  LINE_LIMIT: 'a new line would pass the lines a cart may hold',
  LINE_NOT_FOUND: 'the product is not in the cart',
  ARCHIVED: 'the product is no longer sold',
  PRICES_CHANGED: 'prices changed since they were shown: the cart was re-priced',
  // stock
  IN_STOCK: 'the product can be bought now (no back-in-stock alert needed)',
  // orders
  PAYMENT_IN_PROGRESS: 'a payment attempt with another requestId is being authorized',
  ALREADY_PAID: 'the order is paid already',
  PAYMENT_WINDOW_CLOSED: "the order's payment deadline has passed",
  ORDER_CLOSED: 'the order is cancelled or expired',
  ALREADY_SHIPPED: 'the parcel has left the warehouse',
  // shipments
  SHIPMENT_CLOSED: 'the shipment is delivered or cancelled',
  NOT_SHIPPED: 'a parcel that never left the warehouse cannot be delivered',
  NOT_NEXT_STEP: 'the shipment cannot move to that state from where it is',
  // offers
  OFFER_STARTED: 'the offer has started: its terms can no longer change',
  OFFER_CLOSED: 'the offer has ended or was cancelled',
  NOT_DUE: 'the offer is not due to start or end yet',
  SORT_CHANGED: 'a sale cannot become a drop, nor a drop a sale',
  // reviews
  SIGN_IN: 'reviews and votes need a customer account',
  NOT_DELIVERED: 'no order with the product was delivered to you',
  ALREADY_REVIEWED: 'you reviewed this product already',
  ALREADY_VOTED: 'you voted for this review already',
  OWN_REVIEW: 'you cannot vote for your own review',
} as const;

export type RefusalReason = keyof typeof REFUSAL_REASONS;

export const errorBodySchema = z.object({ code: z.enum(ERROR_CODES), message: z.string(), details: z.unknown().optional() }).readonly();

const topicAnswer = z.object({ topic: z.string() }).readonly();
const stockNotification = z.object({
  productId: z.string(),
  subscribed: z.boolean().describe('true: you will get stock:backInStock (and, signed in, an e-mail) once it can be bought again'),
});
const addressBook = z.object({ addresses: z.array(addressViewSchema).describe('oldest first; exactly one is the default when any exist') });

/** What each `/store` command answers in `data`. */
export const storeResults = {
  'cart:create': z.object({ cart: cartViewSchema }),
  'cart:get': z.object({ cart: cartViewSchema }),
  'carts:list': z.object({ carts: z.array(cartViewSchema) }),
  'cart:addItem': z.object({ cart: cartViewSchema }),
  'cart:setQuantity': z.object({ cart: cartViewSchema }),
  'cart:removeItem': z.object({ cart: cartViewSchema }),
  'cart:checkout': z.object({ order: orderViewSchema }),
  'order:get': z.object({ order: orderViewSchema }),
  'order:pay': z.object({ order: orderViewSchema }),
  'order:cancel': z.object({ order: orderViewSchema }),
  'orders:list': z.object({
    orders: z.array(orderViewSchema).describe('newest first'),
    nextCursor: z.string().nullable().describe('pass as `before` for the next page; null on the last'),
  }),
  'shipment:get': z.object({ shipment: shipmentViewSchema }),
  'addresses:list': addressBook,
  'address:save': addressBook,
  'address:delete': addressBook,
  'review:create': z.object({ review: reviewViewSchema }),
  'review:update': z.object({ review: reviewViewSchema }),
  'review:delete': z.object({ reviewId: z.string() }),
  'review:vote': z.object({ review: reviewViewSchema }),
  'stock:notify': stockNotification,
  'stock:unnotify': stockNotification,
  'stock:notifications': z.object({ productIds: z.array(z.string()).describe('products you wait for (stock:notify, not notified yet), newest first') }),
  subscribe: topicViewSchema,
  unsubscribe: topicAnswer,
} as const satisfies { readonly [C in StoreCommandName]: z.ZodType };

/** What each `/warehouse` command answers in `data`. */
export const warehouseResults = {
  'shipments:list': z.object({ shipments: z.array(shipmentViewSchema) }),
  'shipment:get': z.object({ shipment: shipmentViewSchema }),
  'shipment:advance': z.object({ shipment: shipmentViewSchema }),
  'stock:get': z.object({ stock: stockChangedSchema }),
  'stock:restock': z.object({ stock: stockChangedSchema }),
  'catalog:upsertCategory': z.object({ category: categoryViewSchema, created: z.boolean() }),
  'catalog:upsertProduct': z.object({
    product: productViewSchema,
    created: z.boolean(),
    changed: z.boolean().describe('false when the entry was already exactly this: no new version, no push'),
  }),
  'catalog:archiveProduct': z.object({ product: productViewSchema }),
  'review:hide': z.object({ review: reviewViewSchema }),
  'offer:create': z.object({ offer: offerViewSchema }),
  'offer:update': z.object({ offer: offerViewSchema }),
  'offer:cancel': z.object({ offer: offerViewSchema }),
  'offers:list': z.object({ offers: z.array(offerViewSchema) }),
  'inspect:summary': z.object({ summary: inspectorSummarySchema }),
  'inspect:actors': z.object({
    actors: z.array(actorSummarySchema).describe('newest first'),
    nextCursor: z.string().nullable().describe('pass as `before` for the next page; null on the last'),
  }),
  'inspect:actor': z.object({
    actor: actorSummarySchema.unwrap().extend({ machineVersion: z.number().int(), context: z.unknown() }).readonly(),
    machine: machineGraphSchema,
    timeline: z.array(timelineEntrySchema).describe('the journal replayed, oldest first (the newest `limit` entries)'),
    journalLength: z.number().int().describe('every journal entry, also those left out of timeline'),
    check: snapshotCheckSchema,
  }),
  'inspect:replay': z.object({
    id: z.string(),
    kind: z.string(),
    replayed: timelineEntrySchema.unwrap().extend({ state: z.string(), context: z.unknown() }).readonly().describe('the actor at that version'),
    check: snapshotCheckSchema,
  }),
  'inspect:deliveries': z.object({ id: z.string(), rows: z.array(outboxRowViewSchema).describe('oldest first') }),
  'inspect:retry': z.object({ row: outboxRowViewSchema.describe('the row after the requeue') }),
  subscribe: topicViewSchema,
  unsubscribe: topicAnswer,
} as const satisfies { readonly [C in WarehouseCommandName]: z.ZodType };

export type StoreResults = { [C in StoreCommandName]: z.infer<(typeof storeResults)[C]> };
export type WarehouseResults = { [C in WarehouseCommandName]: z.infer<(typeof warehouseResults)[C]> };

/** Server-to-client events: the push events and the payload schema of each. */
export const pushEvents = {
  'cart:updated': cartViewSchema,
  'order:updated': orderViewSchema,
  'shipment:updated': shipmentViewSchema,
  'stock:changed': stockChangedSchema,
  'product:updated': productViewSchema,
  'rating:changed': ratingChangedSchema,
  'stock:backInStock': backInStockSchema,
  'offer:updated': offerViewSchema,
  'offer:started': offerViewSchema,
  'offer:ended': offerViewSchema,
  'offer:remaining': offerRemainingSchema,
  'recommendations:updated': recommendationsUpdatedSchema,
  'actor:changed': actorChangedSchema,
  resync: z.object({ reason: z.string() }).readonly(),
} as const;

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
  /** A product's catalog entry changed (staff edited or archived it); `version` orders it with `stock:changed`. */
  'product:updated': (product: ProductView) => void;
  /** A review changed the product's rating aggregate. */
  'rating:changed': (rating: RatingChanged) => void;
  /** Personal: a product you asked about (`stock:notify`) can be bought again; once per subscription. */
  'stock:backInStock': (notice: BackInStock) => void;
  /** An offer was created or its terms changed (before it started). */
  'offer:updated': (offer: OfferView) => void;
  /** An offer went live: its prices apply now. */
  'offer:started': (offer: OfferView) => void;
  /** An offer ended or was cancelled (`state` says which): its prices no longer apply. */
  'offer:ended': (offer: OfferView) => void;
  /** A drop's remaining units changed; at 0 it is soldOut. */
  'offer:remaining': (remaining: OfferRemaining) => void;
  /** A cart changed: its recommendations, computed once a burst of changes settled (on `recommendations:<cartId>`). */
  'recommendations:updated': (update: RecommendationsUpdated) => void;
  /** `/warehouse` topic `inspector`: an actor change was committed (any kind, any node). */
  'actor:changed': (change: ActorChanged) => void;
  /** Pushes may have been lost (a cluster link was down): subscribe again to every topic to converge. */
  resync: (info: { reason: string }) => void;
}

/** The Socket.IO namespaces: `/store` for shoppers, `/warehouse` for staff. */
export type Namespace = 'store' | 'warehouse';

/**
 * Which namespaces each server-to-client event goes to: the gateway sends a push only there, and the AsyncAPI
 * document lists it only there. One table for both.
 */
export const pushAudiences = {
  'cart:updated': ['store'],
  'order:updated': ['store'],
  // The order page follows its shipment; the board follows them all.
  'shipment:updated': ['store', 'warehouse'],
  'stock:changed': ['store', 'warehouse'],
  'product:updated': ['store', 'warehouse'],
  'rating:changed': ['store', 'warehouse'],
  'recommendations:updated': ['store'],
  'stock:backInStock': ['store'],
  'offer:updated': ['store', 'warehouse'],
  'offer:started': ['store', 'warehouse'],
  'offer:ended': ['store', 'warehouse'],
  'offer:remaining': ['store', 'warehouse'],
  'actor:changed': ['warehouse'],
  resync: ['store', 'warehouse'],
} as const satisfies { readonly [E in keyof ServerToClient]: readonly Namespace[] };

/** The events a namespace's clients can receive, in the table's order. */
export function eventsOf(namespace: Namespace): Array<keyof ServerToClient> {
  return (Object.keys(pushAudiences) as Array<keyof ServerToClient>).filter((event) => (pushAudiences[event] as readonly Namespace[]).includes(namespace));
}

/** The push events (every server-to-client event but `resync`). */
export type PushEventName = Exclude<keyof ServerToClient, 'resync' | PersonalEventName>;
/**
 * Personal events: pushed to one principal's own sockets (every connection of that customer or guest on
 * `/store`), never to a topic, so there is nothing to subscribe to (the SDK's `on(event, handler)`).
 */
export const PERSONAL_EVENTS = ['stock:backInStock'] as const satisfies readonly Exclude<keyof ServerToClient, 'resync'>[];
export type PersonalEventName = (typeof PERSONAL_EVENTS)[number];
export const PUSH_EVENTS = [
  'cart:updated',
  'order:updated',
  'shipment:updated',
  'stock:changed',
  'product:updated',
  'rating:changed',
  'offer:updated',
  'offer:started',
  'offer:ended',
  'offer:remaining',
  'recommendations:updated',
  'actor:changed',
] as const satisfies readonly PushEventName[];

/**
 * The topics a push updates, from the fields of its payload that name them: the server sends the push to those
 * topics' rooms, and the SDK hands it to the subscriptions of those topics. One table for both sides.
 */
export const pushTopics: { readonly [E in PushEventName]: (payload: TopicFields<E>) => readonly string[] } = {
  'cart:updated': ({ id }) => [`cart:${id}`],
  'order:updated': ({ id }) => [`order:${id}`],
  // A shipment also moves on the warehouse's board.
  'shipment:updated': ({ id }) => [`shipment:${id}`, 'shipments'],
  'stock:changed': ({ productId }) => [`product:${productId}`],
  'product:updated': ({ id }) => [`product:${id}`],
  'rating:changed': ({ productId }) => [`product:${productId}`],
  // An offer moves on the offers list, on its own topic and on the page of every product it prices.
  'offer:updated': (offer) => offerTopics(offer),
  'offer:started': (offer) => offerTopics(offer),
  'offer:ended': (offer) => offerTopics(offer),
  'offer:remaining': ({ offerId, productId }) => ['offers', `offer:${offerId}`, `product:${productId}`],
  'recommendations:updated': ({ cartId }) => [`recommendations:${cartId}`],
  // Every actor change, on the inspector's stream.
  'actor:changed': () => ['inspector'],
};
/** The payload fields that name a push's topics: a product's id for stock, a cart's id for its recommendations, the actor's id otherwise. */
type TopicFields<E extends PushEventName> = E extends keyof OfferTopicFields ? OfferTopicFields[E] : OtherTopicFields<E>;
interface OfferTopicFields {
  readonly 'offer:updated': Pick<OfferView, 'id' | 'affectedProductIds'>;
  readonly 'offer:started': Pick<OfferView, 'id' | 'affectedProductIds'>;
  readonly 'offer:ended': Pick<OfferView, 'id' | 'affectedProductIds'>;
  readonly 'offer:remaining': Pick<OfferRemaining, 'offerId' | 'productId'>;
}
function offerTopics(offer: Pick<OfferView, 'id' | 'affectedProductIds'>): string[] {
  return ['offers', `offer:${offer.id}`, ...offer.affectedProductIds.map((id) => `product:${id}`)];
}

/**
 * Whose version a push carries, when it is not the topic's own: an offer's pushes on `product:<id>` carry the
 * offer's version, not the product's, so a client compares them with that offer's earlier pushes only. Absent:
 * the topic's own version.
 */
export const pushVersionSpace: { readonly [E in PushEventName]?: (payload: Parameters<ServerToClient[E]>[0]) => string } = {
  'offer:updated': (offer) => `offer:${offer.id}`,
  'offer:started': (offer) => `offer:${offer.id}`,
  'offer:ended': (offer) => `offer:${offer.id}`,
  'offer:remaining': ({ offerId }) => `offer:${offerId}`,
};

type OtherTopicFields<E extends PushEventName> = E extends 'stock:changed' | 'rating:changed'
  ? { readonly productId: string }
  : E extends 'recommendations:updated'
    ? { readonly cartId: string }
    : Pick<Parameters<ServerToClient[E]>[0] & { id: string }, 'id'>;

/** Commands that only read: a client may send them again after a failure (the SDK's `read()`). */
export const READ_COMMANDS = [
  'cart:get',
  'carts:list',
  'order:get',
  'orders:list',
  'shipment:get',
  'shipments:list',
  'stock:get',
  'stock:notifications',
  'offers:list',
  'inspect:summary',
  'inspect:actors',
  'inspect:actor',
  'inspect:replay',
  'inspect:deliveries',
] as const satisfies readonly (StoreCommandName | WarehouseCommandName)[];
export type ReadCommandName = (typeof READ_COMMANDS)[number];
