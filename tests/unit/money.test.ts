// formatMoney: minor units in, the currency's own decimals out.
import test from 'ava';
import { formatMoney } from '../../src/client/index.ts';

test('minor units are shown with the currency’s decimals', (t) => {
  t.is(formatMoney(1180, 'EUR'), '€11.80');
  t.is(formatMoney(5, 'EUR'), '€0.05');
  t.is(formatMoney(1180, 'JPY'), '¥1,180');
  t.is(formatMoney(123456, 'USD'), '$1,234.56');
});

test('the locale decides the layout, not the amount', (t) => {
  t.is(formatMoney(1180, 'EUR', 'de-DE').replace(/\s/g, ' '), '11,80 €');
});
