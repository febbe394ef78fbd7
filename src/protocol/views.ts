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
]);
export type TopicView = z.infer<typeof topicViewSchema>;
