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
  readonly unitPrice: MinorUnits;
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

export function lineTotal(lines: readonly CartLine[]): MinorUnits {
  return lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
}
