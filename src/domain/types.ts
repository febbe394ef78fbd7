// Domain value types shared by machines, services and the protocol. No I/O.

/** Integer minor units (cents). Money never travels as a float. */
export type MinorUnits = number;

/** ISO 4217 code, upper case. */
export type Currency = string;

/** Epoch milliseconds. Machines never read a clock: every event carries `at`. */
export type Timestamp = number;

export interface CartLine {
  readonly productId: string;
  readonly quantity: number;
  /** What the customer pays per unit: the list price, or the best live offer's price. */
  readonly unitPrice: MinorUnits;
  /** The catalog's price when the line was priced (absent in lines priced before offers existed: the unit price). */
  readonly listPrice?: MinorUnits | undefined;
  /** The offer the unit price comes from; null or absent at list price. */
  readonly offerId?: string | null | undefined;
}

export interface OrderLine extends CartLine {
  readonly name: string;
  readonly sku: string;
}

export interface ShippingAddress {
  readonly name: string;
  readonly line1: string;
  readonly line2?: string | undefined;
  readonly city: string;
  readonly postalCode: string;
  readonly country: string;
}

/** States a shipment moves through; `exception` may be entered from any moving one. */
export const SHIPMENT_STATES = ['pending', 'picking', 'packed', 'shipped', 'inTransit', 'delivered', 'exception', 'cancelled'] as const;

/** Roles carried by an access token. Admins are staff too. */
export type Role = 'guest' | 'customer' | 'staff' | 'admin';

/** The largest quantity of one product a cart line may hold. */
export const MAX_LINE_QUANTITY = 100;

/** The most distinct lines a cart may hold. */
export const MAX_CART_LINES = 50;

/** A line as clients see it: what is paid, the list price beside it, the offer, and the line's total. */
export function pricedLineView(line: CartLine) {
  return {
    productId: line.productId,
    quantity: line.quantity,
    unitPrice: line.unitPrice,
    listPrice: line.listPrice ?? line.unitPrice,
    offerId: line.offerId ?? null,
    lineTotal: line.quantity * line.unitPrice,
  };
}

export function lineTotal(lines: readonly CartLine[]): MinorUnits {
  return lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
}
