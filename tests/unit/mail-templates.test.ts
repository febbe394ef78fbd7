// The e-mail templates: every value interpolated into HTML is escaped, the plain text carries it as it is, money
// is formatted in the order's currency, a cancelled paid order says it is refunded, and a back-in-stock subject is one line.
import test from 'ava';
import { escapeHtml, MAIL_TEMPLATES, renderMail } from '../../src/modules/mail/index.ts';
import type { MailData, MailOrder } from '../../src/modules/mail/templates.ts';

const hostile = `<script>alert("x")</script> & 'quotes'`;
const order: MailOrder = {
  id: 'order_<1>',
  items: [{ name: `Lamp ${hostile}`, sku: 'SKU-<b>', quantity: 2, unitPrice: 1_250 }],
  total: 2_500,
  currency: 'EUR',
  shippingAddress: { name: `Ada ${hostile}`, line1: '12 <Analytical> Way', city: 'Berlin', postalCode: '10115', country: 'DE' },
  carrier: `Carrier "${hostile}"`,
  trackingNumber: 'TRACK-1',
  chargeId: 'chg_<x>',
};
const context = { customerName: hostile, storeUrl: 'https://shop.example/?a=1&b="2"' };

test('escapeHtml escapes the five characters that matter in content and attributes', (t) => {
  t.is(escapeHtml(`<a href="x">Tom & Jerry's</a>`), '&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;');
  t.is(escapeHtml(42), '42');
});

test('no template lets a customer-supplied value into its HTML unescaped', (t) => {
  for (const template of MAIL_TEMPLATES) {
    const data: MailData =
      template === 'welcome'
        ? { template }
        : template === 'order-cancelled'
          ? { template, order, refundDue: 2_500 }
          : template === 'back-in-stock'
            ? { template, product: { id: 'prod_<1>', name: `Lamp ${hostile}` } }
            : { template, order };
    const mail = renderMail(data, context);
    t.false(mail.html.includes('<script>'), `${template}: no raw script tag`);
    t.false(mail.html.includes(`"x"`), `${template}: no raw quote`);
    t.false(/<b>|<1>|<x>|<Analytical>/.test(mail.html), `${template}: no raw markup from data`);
    t.true(mail.html.includes(escapeHtml(hostile)), `${template}: the name is there, escaped`);
    t.true(mail.text.includes(`Hello ${hostile},`), `${template}: the text has the name as it is`);
    t.true(mail.text.length > 0 && mail.subject.length > 0);
  }
});

test('order mails show lines, totals, carrier and tracking number; links follow the store URL', (t) => {
  const confirmation = renderMail({ template: 'order-confirmation', order }, context);
  t.is(confirmation.subject, 'Order order_<1> received');
  t.true(confirmation.text.includes('2 x Lamp'));
  t.true(confirmation.text.includes('€25.00'));
  t.true(confirmation.html.includes('&lt;Analytical&gt;'));
  t.true(confirmation.text.includes('https://shop.example/?a=1&b="2"/orders/order_%3C1%3E'));
  t.true(confirmation.html.includes('href="https://shop.example/?a=1&amp;b=&quot;2&quot;/orders/order_%3C1%3E"'));

  const shipped = renderMail({ template: 'order-shipped', order }, context);
  t.true(shipped.text.includes(`Carrier: Carrier "${hostile}"`));
  t.true(shipped.text.includes('Tracking number: TRACK-1'));
  t.true(shipped.html.includes('TRACK-1'));

  const yen = renderMail({ template: 'payment-receipt', order: { ...order, currency: 'JPY', total: 2_500 } }, { customerName: 'Ken', storeUrl: undefined });
  t.true(yen.text.includes('¥2,500'));
  t.false(yen.text.includes('http'), 'no store URL: no links');
});

test('a cancelled order says refunded when it was paid, and not charged otherwise', (t) => {
  const refunded = renderMail({ template: 'order-cancelled', order, refundDue: 2_500 }, context);
  t.is(refunded.subject, 'Order order_<1> cancelled and refunded');
  t.true(refunded.text.includes('You are being refunded €25.00'));
  const unpaid = renderMail({ template: 'order-cancelled', order, refundDue: 0 }, context);
  t.is(unpaid.subject, 'Order order_<1> cancelled');
  t.true(unpaid.text.includes('You were not charged.'));
  const expired = renderMail({ template: 'order-expired', order }, context);
  t.true(expired.text.includes('has expired'));
});

test('back in stock: the product in the subject on one line, escaped in the HTML, and a link to it on the store', (t) => {
  const product = { id: 'prod_<1>', name: `Lamp\r\nBcc: evil@example.com ${hostile}` };
  const mail = renderMail({ template: 'back-in-stock', product }, context);
  t.is(mail.subject, `Lamp Bcc: evil@example.com ${hostile} is back in stock`);
  t.false(/[\r\n]/.test(mail.subject), 'no line break can reach the Subject header');
  t.true(mail.text.includes(`Lamp Bcc: evil@example.com ${hostile} is back in stock`));
  t.true(mail.html.includes(`<title>${escapeHtml(mail.subject)}</title>`));
  t.false(mail.html.includes('<script>'));
  t.true(mail.text.includes('See the product: https://shop.example/?a=1&b="2"/products/prod_%3C1%3E'));
  t.true(mail.html.includes('href="https://shop.example/?a=1&amp;b=&quot;2&quot;/products/prod_%3C1%3E"'));
  const plain = renderMail({ template: 'back-in-stock', product: { id: 'prod_1', name: 'Lamp' } }, { customerName: 'Ada', storeUrl: 'https://shop.example/' });
  t.is(plain.subject, 'Lamp is back in stock');
  t.true(plain.text.includes('https://shop.example/products/prod_1'), 'one slash between the store URL and the path');
  const offline = renderMail({ template: 'back-in-stock', product: { id: 'prod_1', name: 'Lamp' } }, { customerName: 'Ada', storeUrl: undefined });
  t.false(offline.text.includes('http'), 'no store URL: no link');
});
