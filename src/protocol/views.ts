// What clients see: every view as a zod schema, so the TypeScript types and the published JSON Schemas
// (OpenAPI, AsyncAPI) come from one definition.
import { z } from 'zod';
import { SHIPMENT_STATES } from '../domain/types.ts';

/** Integer minor units (cents for EUR): money never travels as a float. */
const minorUnits = z.number().int().describe('integer minor units of `currency` (cents for EUR)');
const epochMs = z.number().int().describe('epoch milliseconds');
const version = z.number().int().min(1).describe('rises by one with every accepted change; drop pushes that are not newer');

export const CART_STATES = ['active', 'checkingOut', 'checkedOut', 'expired'] as const;
export const ORDER_STATES = ['awaitingPayment', 'authorizing', 'paid', 'fulfilling', 'shipped', 'delivered', 'cancelled', 'expired'] as const;

/** A shipping address as stored and shown (the command schema trims and validates it on the way in). */
export const shippingAddressViewSchema = z
  .object({
    name: z.string(),
    line1: z.string(),
    line2: z.string().optional(),
    city: z.string(),
    postalCode: z.string(),
    country: z.string().describe('ISO 3166 alpha-2'),
  })
  .readonly();

/** A line's price: what is paid per unit, the catalog's price beside it, and the offer that makes the difference. */
const linePriceFields = {
  unitPrice: minorUnits.describe('what is paid per unit: the list price, or the best live offer'),
  listPrice: minorUnits.describe("the catalog's price when the line was priced; above unitPrice when an offer applies"),
  offerId: z.string().nullable().describe('the offer the unit price comes from; null at list price'),
};

export const cartLineViewSchema = z.object({ productId: z.string(), quantity: z.number().int(), ...linePriceFields, lineTotal: minorUnits }).readonly();

export const cartViewSchema = z
  .object({
    id: z.string(),
    version,
    state: z.enum(CART_STATES),
    customerId: z.string(),
    currency: z.string(),
    items: z.array(cartLineViewSchema).readonly(),
    itemCount: z.number().int(),
    total: minorUnits,
    orderId: z.string().nullable().describe('the order this cart is becoming or became'),
    lastCheckoutError: z.string().nullable(),
    expiresAt: epochMs,
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .readonly();

export const orderLineViewSchema = z
  .object({ productId: z.string(), quantity: z.number().int(), ...linePriceFields, lineTotal: minorUnits, name: z.string(), sku: z.string() })
  .readonly();

export const orderViewSchema = z
  .object({
    id: z.string(),
    version,
    state: z.enum(ORDER_STATES),
    customerId: z.string(),
    cartId: z.string(),
    items: z.array(orderLineViewSchema).readonly(),
    total: minorUnits,
    currency: z.string(),
    shippingAddress: shippingAddressViewSchema.nullable(),
    paymentDeadline: epochMs,
    payment: z.object({ chargeId: z.string(), amount: minorUnits, paidAt: epochMs }).readonly().nullable(),
    paymentAttempts: z.number().int(),
    lastPaymentError: z.string().nullable(),
    refund: z
      .object({ amount: minorUnits, chargeId: z.string(), status: z.enum(['pending', 'refunded']), refundId: z.string().nullable() })
      .readonly()
      .nullable(),
    shipmentId: z.string().nullable(),
    carrier: z.string().nullable(),
    trackingNumber: z.string().nullable(),
    cancelReason: z.string().nullable(),
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .readonly();

/** A shipment's lines: the order's, without totals. */
export const shipmentLineViewSchema = z
  .object({ productId: z.string(), quantity: z.number().int(), unitPrice: minorUnits, name: z.string(), sku: z.string() })
  .readonly();

export const shipmentViewSchema = z
  .object({
    id: z.string(),
    version,
    state: z.enum(SHIPMENT_STATES),
    orderId: z.string(),
    customerId: z.string(),
    items: z.array(shipmentLineViewSchema).readonly(),
    shippingAddress: shippingAddressViewSchema.nullable(),
    carrier: z.string().nullable(),
    trackingNumber: z.string().nullable(),
    exception: z.object({ reason: z.string(), from: z.string() }).readonly().nullable(),
    history: z.array(z.object({ state: z.enum(SHIPMENT_STATES), at: epochMs, note: z.string().optional() }).readonly()).readonly(),
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .readonly();

const starCount = z.number().int().min(0);

/** What customers think of a product: the mean of their 1–5 star ratings and how they spread. */
export const productRatingSchema = z
  .object({
    average: z.number().nullable().describe('the mean of the ratings, 1–5, rounded to 2 decimals; null while nobody has rated it'),
    count: starCount.describe('how many ratings'),
    histogram: z.tuple([starCount, starCount, starCount, starCount, starCount]).readonly().describe('how many ratings gave 1, 2, 3, 4 and 5 stars'),
  })
  .readonly();

export const productViewSchema = z
  .object({
    id: z.string(),
    sku: z.string(),
    name: z.string(),
    description: z.string(),
    categoryId: z.string(),
    price: minorUnits,
    currency: z.string(),
    available: z.number().int().describe('on_hand - reserved: what can be bought right now'),
    version: z.number().int().describe("the product's version: rises with every change to it, its stock, its catalog entry and its rating alike"),
    stockVersion: z.number().int().describe('the same number as `version` (its older name); compare it to drop stale stock:changed pushes'),
    imageUrl: z.string().nullable().describe('the first image, if any'),
    images: z.array(z.string()).readonly(),
    attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).describe('free-form facts: origin, weight, colour…'),
    archived: z.boolean().describe('no longer sold: absent from listings and search, still shown on the orders that hold it'),
    rating: productRatingSchema,
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .readonly();

/** Pushed to `product:<id>` after every committed stock change. */
export const stockChangedSchema = z
  .object({
    productId: z.string(),
    available: z.number().int(),
    onHand: z.number().int(),
    version: z.number().int().describe("the product's stock version: drop a push whose version is not above the one you hold"),
  })
  .readonly();

export const categoryViewSchema = z
  .object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    description: z.string(),
    parentId: z.string().nullable().describe('the parent category: categories form a tree'),
    position: z.number().int().describe('order among its siblings'),
  })
  .readonly();

/** A customer's review of a product they received. */
export const reviewViewSchema = z
  .object({
    id: z.string(),
    productId: z.string(),
    authorName: z.string().describe("the reviewer's first name and last initial"),
    rating: z.number().int().min(1).max(5),
    title: z.string(),
    body: z.string(),
    helpful: z.number().int().describe('customers who voted it helpful'),
    hidden: z.boolean().describe('hidden by staff: out of the listing and the aggregate (only staff and its author see it)'),
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .readonly();

/** Pushed to `product:<id>` when a review changes its rating aggregate. */
export const ratingChangedSchema = z
  .object({
    productId: z.string(),
    average: z.number().nullable().describe('mean stars, 2 decimals; null with no review'),
    count: z.number().int(),
    histogram: z.array(z.number().int()).length(5).describe('reviews with 1, 2, 3, 4 and 5 stars'),
    version: z.number().int().describe("the product's version: drop a push whose version is not above the one you hold"),
  })
  .readonly();

/** Pushed once per `stock:notify` subscription, to the subscriber's own sockets, when the product can be bought again. */
export const backInStockSchema = z
  .object({
    productId: z.string(),
    name: z.string().describe("the product's name"),
    available: z.number().int().describe('how many could be bought when the subscription was notified'),
  })
  .readonly();

export const OFFER_STATES = ['scheduled', 'live', 'soldOut', 'ended', 'cancelled'] as const;

/** A festival sale or a limited drop, as staff made it and as it stands. */
export const offerViewSchema = z
  .object({
    id: z.string(),
    version,
    state: z.enum(OFFER_STATES).describe('scheduled → live → ended; a drop is soldOut while its quota is all claimed; or cancelled'),
    name: z.string(),
    sort: z.enum(['sale', 'drop']),
    discount: z
      .union([
        z.object({ type: z.literal('percent'), percent: z.number().int() }).readonly(),
        z.object({ type: z.literal('amount'), amount: minorUnits }).readonly(),
      ])
      .nullable()
      .describe("a sale's discount; null for a drop"),
    productIds: z.array(z.string()).readonly().describe("a sale's listed products, or a drop's one product"),
    categoryIds: z.array(z.string()).readonly().describe("a sale's whole categories (their sub-categories included)"),
    affectedProductIds: z
      .array(z.string())
      .readonly()
      .describe('every product it prices: the listed ones and those in its categories now; its pushes go to their product:<id> topics'),
    drop: z
      .object({
        productId: z.string(),
        dropPrice: minorUnits,
        quota: z.number().int(),
        perCustomerLimit: z.number().int(),
        remaining: z.number().int().describe('units not yet claimed by a checkout'),
      })
      .readonly()
      .nullable(),
    startsAt: epochMs,
    endsAt: epochMs.nullable().describe('null: a drop that runs until it sells out or is cancelled'),
    cancelReason: z.string().nullable(),
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .readonly();

/** Pushed when a drop's remaining units change (a checkout claimed some, an expired order gave some back). */
export const offerRemainingSchema = z
  .object({
    offerId: z.string(),
    productId: z.string(),
    remaining: z.number().int(),
    quota: z.number().int(),
    state: z.enum(OFFER_STATES),
    version: z.number().int().describe("the offer's version: drop a push whose version is not above the one you hold"),
  })
  .readonly();

/** Why a product is recommended. */
export const RECOMMENDATION_REASONS = ['boughtTogether', 'history', 'bestSeller', 'sameCategory'] as const;

/** A product recommended beside a product or a cart: on sale, in stock, priced as the customer would pay now. */
export const recommendationViewSchema = z
  .object({
    productId: z.string(),
    name: z.string(),
    price: minorUnits.describe('what the customer would pay now: the best live offer, or the list price'),
    listPrice: minorUnits.describe("the catalog's price"),
    offerId: z.string().nullable().describe('the live offer behind price; null at list price'),
    currency: z.string(),
    categoryId: z.string(),
    available: z.number().int().describe('on_hand - reserved when recommended (always above 0)'),
    imageUrl: z.string().nullable(),
    rating: z.object({ average: z.number().nullable(), count: z.number().int() }).readonly().describe("the product's rating: mean stars and how many"),
    reason: z
      .enum(RECOMMENDATION_REASONS)
      .describe(
        'boughtTogether: often in one order with the product or the cart; history: often bought with what this customer bought before; bestSeller: among the most sold of the same categories; sameCategory: another product of those categories',
      ),
  })
  .readonly();

/** A cart's recommendations: `recommendations:<cartId>`'s view, and its `recommendations:updated` push. */
export const recommendationsUpdatedSchema = z
  .object({
    cartId: z.string(),
    version: z.number().int().describe("the cart's version they were computed for: drop a push whose version is not above the one you hold"),
    recommendations: z.array(recommendationViewSchema).readonly().describe('best first; never a product in the cart, archived or out of stock'),
  })
  .readonly();

/** An entry of a customer's address book. */
export const addressViewSchema = shippingAddressViewSchema
  .unwrap()
  .extend({ id: z.string(), label: z.string(), isDefault: z.boolean().describe('used by a checkout that names no address') })
  .readonly();

export const customerViewSchema = z
  .object({ id: z.string(), email: z.string(), name: z.string(), role: z.enum(['guest', 'customer', 'staff', 'admin']), createdAt: epochMs })
  .readonly();

export type CartLineView = z.infer<typeof cartLineViewSchema>;
export type CartView = z.infer<typeof cartViewSchema>;
export type OrderLineView = z.infer<typeof orderLineViewSchema>;
export type OrderView = z.infer<typeof orderViewSchema>;
export type ShipmentView = z.infer<typeof shipmentViewSchema>;
export type ShipmentStateName = (typeof SHIPMENT_STATES)[number];
export type ProductView = z.infer<typeof productViewSchema>;
export type ProductRating = z.infer<typeof productRatingSchema>;
export type StockChanged = z.infer<typeof stockChangedSchema>;
export type CategoryView = z.infer<typeof categoryViewSchema>;
export type CustomerView = z.infer<typeof customerViewSchema>;
export type AddressView = z.infer<typeof addressViewSchema>;
export type ReviewView = z.infer<typeof reviewViewSchema>;
export type RatingChanged = z.infer<typeof ratingChangedSchema>;
export type BackInStock = z.infer<typeof backInStockSchema>;
export type RecommendationReason = (typeof RECOMMENDATION_REASONS)[number];
export type RecommendationView = z.infer<typeof recommendationViewSchema>;
export type RecommendationsUpdated = z.infer<typeof recommendationsUpdatedSchema>;
export type OfferView = z.infer<typeof offerViewSchema>;
export type OfferRemaining = z.infer<typeof offerRemainingSchema>;

// ---------------------------------------------------------------- the actor inspector (/warehouse: staff and admin)

/** How many actors there are of each kind in each state: `inspect:summary`'s answer and the `inspector` topic's view. */
export const inspectorSummarySchema = z
  .object({
    total: z.number().int(),
    kinds: z
      .array(
        z
          .object({
            kind: z.string(),
            total: z.number().int(),
            states: z
              .array(z.object({ state: z.string(), count: z.number().int() }).readonly())
              .readonly()
              .describe("every state the kind's machine can rest in, 0 included, in the machine's order; then any other state stored rows hold"),
          })
          .readonly(),
      )
      .readonly()
      .describe('every kind this node hosts (and any other kind stored), by name'),
    at: epochMs.describe('when the counts were read'),
  })
  .readonly();

/** One actor in a listing. */
export const actorSummarySchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    state: z.string(),
    version: z.number().int(),
    ownerId: z.string().nullable(),
    status: z.enum(['active', 'done']).describe('done: the machine reached a final state'),
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .readonly();

/** One change in a context: `before` absent when added, `after` absent when removed. */
export const valueChangeSchema = z
  .object({
    path: z.string().describe('top-level key or JSON path: total, items[0].quantity, history[3]'),
    before: z.unknown().optional(),
    after: z.unknown().optional(),
  })
  .readonly();

/** A journal event as stored: its type and its fields (`at` included; version 1 is `{ type: 'xstate.init', input }`). */
const journalEventSchema = z.object({ type: z.string() }).catchall(z.unknown()).readonly();

/** One journal entry, replayed: the event and the state it led to, and what it changed in the context. */
export const timelineEntrySchema = z
  .object({
    version: z.number().int(),
    at: epochMs,
    event: journalEventSchema,
    state: z.string().nullable().describe('null: not rebuilt, the replay stopped before this version (check.mismatch says why)'),
    changed: z.array(valueChangeSchema).readonly().describe('version 1: every key, as added; empty when not rebuilt'),
    redacted: z.boolean().describe('emporium.redacted: personal data was erased outside the machine; state and context are carried through'),
  })
  .readonly();

/** The replay of the whole journal against the stored snapshot. A mismatch is a bug (or a tampered row): shown, never hidden. */
export const snapshotCheckSchema = z
  .object({
    matches: z.boolean(),
    storedVersion: z.number().int(),
    replayedVersion: z.number().int().describe('the last version the replay rebuilt (0: none)'),
    mismatch: z
      .object({
        message: z.string(),
        differences: z
          .array(
            z
              .object({
                path: z.string().describe('version, state, value (the state value), machineVersion, or context.<path>'),
                replayed: z.unknown().optional(),
                stored: z.unknown().optional(),
              })
              .readonly(),
          )
          .readonly(),
      })
      .readonly()
      .nullable()
      .describe('null when the replay matches the stored snapshot, or when the journal was compacted (see compacted)'),
    notes: z.array(z.string()).readonly().describe('what to know to judge it: a redaction, a snapshot migrated from an older machine, a compaction'),
    compacted: z
      .object({
        throughVersion: z.number().int().describe('journal versions 1 to this one were deleted'),
        at: epochMs.describe('when retention compacted it'),
      })
      .readonly()
      .optional()
      .describe('present when retention deleted the journal (an old expired or checked-out cart): nothing to replay, matches is false, the snapshot is intact'),
  })
  .readonly();

/** A machine's states and transitions, for drawing it, and where the actor is. */
export const machineGraphSchema = z
  .object({
    id: z.string(),
    initial: z.string().nullable().describe('the state a new actor starts in'),
    current: z.string().describe("the actor's state"),
    states: z
      .array(
        z
          .object({
            name: z.string().describe('the path from the root joined with dots'),
            parent: z.string().nullable(),
            type: z.enum(['atomic', 'compound', 'parallel', 'final', 'history']),
            initial: z.string().nullable(),
          })
          .readonly(),
      )
      .readonly(),
    transitions: z
      .array(
        z
          .object({
            source: z.string(),
            event: z.string(),
            targets: z.array(z.string()).readonly().describe('empty: stays in its state (changes the context only)'),
            guard: z.string().nullable(),
          })
          .readonly(),
      )
      .readonly(),
  })
  .readonly();

/** One flow's delivery of an outbox row. */
export const deliveryViewSchema = z
  .object({
    flow: z.string(),
    state: z.enum(['pending', 'done', 'parked']),
    attempts: z.number().int().describe('failed attempts so far'),
    lastError: z.string().nullable(),
    settledAt: epochMs.nullable().describe('when it was done or parked'),
    claimedUntil: epochMs.nullable().describe('pending: the end of a claim, or after a failure when the next attempt may start'),
    claimed: z.boolean().describe('a relay holds it right now'),
  })
  .readonly();

/** A domain event an actor wrote to the outbox, with each interested flow's delivery. */
export const outboxRowViewSchema = z
  .object({
    seq: z.number().int(),
    type: z.string(),
    payload: z.unknown(),
    createdAt: epochMs,
    fannedOutAt: epochMs.nullable().describe('null until the relay gave it its deliveries'),
    dispatchedAt: epochMs.nullable().describe('null until every flow settled it (done or parked)'),
    deliveries: z.array(deliveryViewSchema).readonly().describe('one per flow that consumes its type; none when no flow wants it'),
  })
  .readonly();

/** Pushed on `/warehouse` topic `inspector` for every committed actor change, on every node. */
export const actorChangedSchema = z
  .object({
    kind: z.string(),
    id: z.string(),
    version: z.number().int().describe("the actor's new version"),
    state: z.string(),
    event: z.string().describe("the journal event's type (xstate.init for a new actor)"),
    at: epochMs,
  })
  .readonly();

export type InspectorSummary = z.infer<typeof inspectorSummarySchema>;
export type ActorSummary = z.infer<typeof actorSummarySchema>;
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;
export type SnapshotCheckView = z.infer<typeof snapshotCheckSchema>;
export type MachineGraphView = z.infer<typeof machineGraphSchema>;
export type OutboxRowView = z.infer<typeof outboxRowViewSchema>;
export type ActorChanged = z.infer<typeof actorChangedSchema>;

/** What `subscribe` answers: the topic's current view, to start from and compare push versions against. */
export const topicViewSchema = z.union([
  z.object({ topic: z.templateLiteral(['cart:', z.string()]), view: cartViewSchema }).readonly(),
  z.object({ topic: z.templateLiteral(['order:', z.string()]), view: orderViewSchema }).readonly(),
  z.object({ topic: z.templateLiteral(['shipment:', z.string()]), view: shipmentViewSchema }).readonly(),
  z.object({ topic: z.templateLiteral(['product:', z.string()]), view: productViewSchema.and(z.object({ version: z.number().int() })) }).readonly(),
  z.object({ topic: z.templateLiteral(['recommendations:', z.string()]), view: recommendationsUpdatedSchema }).readonly(),
  z.object({ topic: z.literal('shipments'), view: z.object({ shipments: z.array(shipmentViewSchema).readonly() }).readonly() }).readonly(),
  z.object({ topic: z.templateLiteral(['offer:', z.string()]), view: offerViewSchema }).readonly(),
  z
    .object({
      topic: z.literal('offers'),
      view: z.object({ offers: z.array(offerViewSchema).readonly().describe('live and upcoming, soonest first') }).readonly(),
    })
    .readonly(),
  z.object({ topic: z.literal('inspector'), view: inspectorSummarySchema }).readonly(),
]);
export type TopicView = z.infer<typeof topicViewSchema>;
