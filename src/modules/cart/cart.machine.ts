// The cart: a customer's basket until it is checked out or left to expire.
import { assign, emit, setup } from 'xstate';
import { MAX_CART_LINES, MAX_LINE_QUANTITY, type CartLine, type Currency, type MinorUnits, type ShippingAddress, type Timestamp } from '../../domain/types.ts';

export const CART_MACHINE_VERSION = 1;

export interface CartContext {
  readonly id: string;
  readonly customerId: string;
  readonly currency: Currency;
  readonly items: readonly CartLine[];
  /** Idle time after which the cart expires; every accepted change restarts it. */
  readonly ttlMs: number;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
  readonly expiresAt: Timestamp;
  /** Set when checkout starts: the order this cart becomes, and the request that started it. */
  readonly checkout: {
    readonly orderId: string;
    readonly requestId: string;
    readonly startedAt: Timestamp;
    readonly shippingAddress: ShippingAddress | null;
  } | null;
  /** Why the last checkout attempt failed, for the client to show. */
  readonly lastCheckoutError: string | null;
  /**
   * The last attempt that failed: the same `requestId` again answers with that failure instead of starting
   * over (absent in snapshots written before it was kept).
   */
  readonly failedCheckout?: { readonly requestId: string; readonly orderId: string } | null;
}

export interface CartInput {
  readonly id: string;
  readonly customerId: string;
  readonly currency: Currency;
  readonly ttlMs: number;
  readonly at: Timestamp;
}

/** How a line is priced: what the customer pays, the catalog's price, and the offer that makes the difference. */
export interface LinePrice {
  readonly unitPrice: MinorUnits;
  readonly listPrice?: MinorUnits | undefined;
  readonly offerId?: string | null | undefined;
}

export type CartEvent =
  | ({ type: 'ADD_ITEM'; productId: string; quantity: number; at: Timestamp } & LinePrice)
  | ({ type: 'SET_QUANTITY'; productId: string; quantity: number; at: Timestamp } & LinePrice)
  | { type: 'REMOVE_ITEM'; productId: string; at: Timestamp }
  | { type: 'ASSIGN_CUSTOMER'; customerId: string; at: Timestamp }
  /**
   * The lines' prices changed since they were added (the catalog's price, or an offer started or ended): the lines
   * take the new ones (checkout does this, and so does the offers module when an offer starts or ends).
   */
  | { type: 'REPRICE'; prices: ReadonlyArray<{ readonly productId: string } & LinePrice>; at: Timestamp }
  | { type: 'CHECKOUT_STARTED'; orderId: string; requestId: string; shippingAddress?: ShippingAddress | null; at: Timestamp }
  | { type: 'CHECKOUT_FAILED'; orderId: string; reason: string; at: Timestamp }
  | { type: 'CHECKOUT_COMPLETED'; orderId: string; at: Timestamp }
  | { type: 'EXPIRE'; at: Timestamp };

export type CartEmitted = { type: 'cart.checkedOut'; cartId: string; orderId: string } | { type: 'cart.expired'; cartId: string };

function quantityOf(items: readonly CartLine[], productId: string): number {
  return items.find((line) => line.productId === productId)?.quantity ?? 0;
}

function withLine(items: readonly CartLine[], line: CartLine): readonly CartLine[] {
  if (line.quantity === 0) return items.filter((existing) => existing.productId !== line.productId);
  const index = items.findIndex((existing) => existing.productId === line.productId);
  if (index === -1) return [...items, line];
  return items.map((existing, i) => (i === index ? line : existing));
}

const isQuantity = (n: number) => Number.isSafeInteger(n);
const isPrice = (n: number) => Number.isSafeInteger(n) && n >= 0;

const touched = (context: CartContext, at: Timestamp) => ({ updatedAt: at, expiresAt: at + context.ttlMs });

/** A line with its price: the offer and list price are kept only when an offer makes the difference. */
function pricedLine(productId: string, quantity: number, price: LinePrice): CartLine {
  const offerId = price.offerId ?? null;
  return offerId === null
    ? { productId, quantity, unitPrice: price.unitPrice }
    : { productId, quantity, unitPrice: price.unitPrice, listPrice: price.listPrice ?? price.unitPrice, offerId };
}

/** Whether `price` would price `line` differently. */
const repricesLine = (line: CartLine, price: LinePrice) => line.unitPrice !== price.unitPrice || (line.offerId ?? null) !== (price.offerId ?? null);

/**
 * Why a cart refuses a change, by rule. Each rule is stated once, in `cartRefusal`: the machine's guards use
 * it, the cart kind maps its reasons to protocol errors for refused events, and the cart service asks it
 * before it looks up stock and prices, so a request breaking a rule is answered without touching the database.
 */
export type CartRefusal =
  | { readonly reason: 'CART_NOT_ACTIVE'; readonly state: string }
  | { readonly reason: 'CART_EXPIRED' }
  | { readonly reason: 'MALFORMED_LINE'; readonly productId: string }
  | { readonly reason: 'QUANTITY_LIMIT'; readonly productId: string; readonly requested: number }
  | { readonly reason: 'LINE_LIMIT'; readonly productId: string }
  | { readonly reason: 'LINE_NOT_FOUND'; readonly productId: string }
  | { readonly reason: 'CART_EMPTY' };

/** The events a customer's request turns into: the ones a cart can refuse for a reason of its own. */
export type CartChange = Extract<CartEvent, { type: 'ADD_ITEM' | 'SET_QUANTITY' | 'REMOVE_ITEM' | 'CHECKOUT_STARTED' }>;

export function isCartChange(event: CartEvent): event is CartChange {
  return event.type === 'ADD_ITEM' || event.type === 'SET_QUANTITY' || event.type === 'REMOVE_ITEM' || event.type === 'CHECKOUT_STARTED';
}

/** A line may hold at most MAX_LINE_QUANTITY units, and a new line needs room among MAX_CART_LINES. */
function lineRefusal(items: readonly CartLine[], productId: string, quantity: number): CartRefusal | null {
  if (quantity > MAX_LINE_QUANTITY) return { reason: 'QUANTITY_LIMIT', productId, requested: quantity };
  if (quantity > 0 && quantityOf(items, productId) === 0 && items.length >= MAX_CART_LINES) return { reason: 'LINE_LIMIT', productId };
  return null;
}

/** Why a cart in `state` with `context` refuses `event`, or null when it takes it. */
export function cartRefusal(state: string, context: CartContext, event: CartChange): CartRefusal | null {
  if (state !== 'active') return { reason: 'CART_NOT_ACTIVE', state };
  if (event.at >= context.expiresAt) return { reason: 'CART_EXPIRED' };
  switch (event.type) {
    case 'ADD_ITEM':
      if (!isQuantity(event.quantity) || !isPrice(event.unitPrice) || event.quantity < 1) return { reason: 'MALFORMED_LINE', productId: event.productId };
      return lineRefusal(context.items, event.productId, quantityOf(context.items, event.productId) + event.quantity);
    case 'SET_QUANTITY':
      if (!isQuantity(event.quantity) || !isPrice(event.unitPrice) || event.quantity < 0) return { reason: 'MALFORMED_LINE', productId: event.productId };
      if (event.quantity === 0 && quantityOf(context.items, event.productId) === 0) return { reason: 'LINE_NOT_FOUND', productId: event.productId };
      return lineRefusal(context.items, event.productId, event.quantity);
    case 'REMOVE_ITEM':
      return quantityOf(context.items, event.productId) > 0 ? null : { reason: 'LINE_NOT_FOUND', productId: event.productId };
    case 'CHECKOUT_STARTED':
      return context.items.length > 0 ? null : { reason: 'CART_EMPTY' };
  }
}

/** Guards of the `active` state: the change is taken exactly when no rule refuses it. */
const takes = (context: CartContext, event: CartEvent, type: CartChange['type']) => event.type === type && cartRefusal('active', context, event) === null;

/**
 * A cart in `active` takes changes to its lines; `checkingOut` locks it while
 * stock is reserved for the order it becomes; `checkedOut` and `expired` are final.
 *
 * @example
 * const [cart] = initialTransition(cartMachine, { id, customerId, currency: 'EUR', ttlMs: 3_600_000, at: now });
 */
export const cartMachine = setup({
  types: {
    context: {} as CartContext,
    events: {} as CartEvent,
    input: {} as CartInput,
    emitted: {} as CartEmitted,
  },
  guards: {
    canAddQuantity: ({ context, event }) => takes(context, event, 'ADD_ITEM'),
    isValidQuantity: ({ context, event }) => takes(context, event, 'SET_QUANTITY'),
    hasLine: ({ context, event }) => takes(context, event, 'REMOVE_ITEM'),
    hasItems: ({ context, event }) => takes(context, event, 'CHECKOUT_STARTED'),
    isFailedCheckoutOrder: ({ context, event }) => event.type === 'CHECKOUT_FAILED' && context.checkout?.orderId === event.orderId,
    isCheckoutOrder: ({ context, event }) => event.type === 'CHECKOUT_COMPLETED' && context.checkout?.orderId === event.orderId,
    isPastExpiry: ({ context, event }) => event.type === 'EXPIRE' && event.at >= context.expiresAt,
    changesPrices: ({ context, event }) =>
      event.type === 'REPRICE' &&
      event.at < context.expiresAt &&
      event.prices.every((price) => isPrice(price.unitPrice)) &&
      event.prices.some((price) => context.items.some((line) => line.productId === price.productId && repricesLine(line, price))),
  },
  actions: {
    addItem: assign(({ context, event }) => {
      if (event.type !== 'ADD_ITEM') return {};
      const quantity = quantityOf(context.items, event.productId) + event.quantity;
      return {
        items: withLine(context.items, pricedLine(event.productId, quantity, event)),
        ...touched(context, event.at),
      };
    }),
    setQuantity: assign(({ context, event }) => {
      if (event.type !== 'SET_QUANTITY') return {};
      return {
        items: withLine(context.items, pricedLine(event.productId, event.quantity, event)),
        ...touched(context, event.at),
      };
    }),
    removeItem: assign(({ context, event }) => {
      if (event.type !== 'REMOVE_ITEM') return {};
      return { items: context.items.filter((line) => line.productId !== event.productId), ...touched(context, event.at) };
    }),
    reprice: assign(({ context, event }) => {
      if (event.type !== 'REPRICE') return {};
      const prices = new Map(event.prices.map((price) => [price.productId, price]));
      return {
        items: context.items.map((line) => {
          const price = prices.get(line.productId);
          return price ? pricedLine(line.productId, line.quantity, price) : line;
        }),
        updatedAt: event.at,
      };
    }),
    assignCustomer: assign(({ context, event }) => (event.type === 'ASSIGN_CUSTOMER' ? { customerId: event.customerId, ...touched(context, event.at) } : {})),
    startCheckout: assign(({ event }) =>
      event.type === 'CHECKOUT_STARTED'
        ? {
            checkout: { orderId: event.orderId, requestId: event.requestId, startedAt: event.at, shippingAddress: event.shippingAddress ?? null },
            updatedAt: event.at,
            lastCheckoutError: null,
          }
        : {},
    ),
    failCheckout: assign(({ context, event }) =>
      event.type === 'CHECKOUT_FAILED'
        ? {
            checkout: null,
            lastCheckoutError: event.reason,
            failedCheckout: context.checkout ? { requestId: context.checkout.requestId, orderId: context.checkout.orderId } : null,
            ...touched(context, event.at),
          }
        : {},
    ),
    completeCheckout: assign(({ event }) => (event.type === 'CHECKOUT_COMPLETED' ? { updatedAt: event.at } : {})),
    markExpired: assign(({ event }) => (event.type === 'EXPIRE' ? { updatedAt: event.at } : {})),
    emitCheckedOut: emit(({ context }) => ({
      type: 'cart.checkedOut' as const,
      cartId: context.id,
      orderId: context.checkout?.orderId ?? '',
    })),
    emitExpired: emit(({ context }) => ({ type: 'cart.expired' as const, cartId: context.id })),
  },
}).createMachine({
  id: 'cart',
  context: ({ input }) => ({
    id: input.id,
    customerId: input.customerId,
    currency: input.currency,
    items: [],
    ttlMs: input.ttlMs,
    createdAt: input.at,
    updatedAt: input.at,
    expiresAt: input.at + input.ttlMs,
    checkout: null,
    lastCheckoutError: null,
  }),
  initial: 'active',
  states: {
    active: {
      on: {
        ADD_ITEM: { guard: 'canAddQuantity', actions: 'addItem' },
        SET_QUANTITY: { guard: 'isValidQuantity', actions: 'setQuantity' },
        REMOVE_ITEM: { guard: 'hasLine', actions: 'removeItem' },
        ASSIGN_CUSTOMER: { actions: 'assignCustomer' },
        REPRICE: { guard: 'changesPrices', actions: 'reprice' },
        CHECKOUT_STARTED: { guard: 'hasItems', target: 'checkingOut', actions: 'startCheckout' },
        EXPIRE: { guard: 'isPastExpiry', target: 'expired', actions: ['markExpired', 'emitExpired'] },
      },
    },
    checkingOut: {
      on: {
        ASSIGN_CUSTOMER: { actions: 'assignCustomer' },
        CHECKOUT_FAILED: { guard: 'isFailedCheckoutOrder', target: 'active', actions: 'failCheckout' },
        CHECKOUT_COMPLETED: { guard: 'isCheckoutOrder', target: 'checkedOut', actions: ['completeCheckout', 'emitCheckedOut'] },
      },
    },
    checkedOut: { type: 'final' },
    expired: { type: 'final' },
  },
});

export type CartMachine = typeof cartMachine;
