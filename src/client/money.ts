// Money on the wire is integer minor units with an ISO 4217 currency; this turns it into text for people.

/**
 * Formats an amount in minor units (cents for EUR) in its currency, using the
 * currency's own number of decimals (2 for EUR, 0 for JPY).
 *
 * @example
 * formatMoney(1180, 'EUR')            // '€11.80'
 * formatMoney(1180, 'EUR', 'de-DE')   // '11,80 €'
 */
export function formatMoney(minorUnits: number, currency: string, locale = 'en-US'): string {
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  const decimals = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minorUnits / 10 ** decimals);
}
