// The e-mails, each as a subject, a plain-text body and an HTML body. No template engine: one function per
// mail over plain data. Every value interpolated into HTML goes through `escapeHtml`.
import { formatMoney } from '../../client/money.ts';
import type { ShippingAddress } from '../../domain/types.ts';

export const MAIL_TEMPLATES = [
  'welcome',
  'order-confirmation',
  'payment-receipt',
  'order-shipped',
  'order-delivered',
  'order-cancelled',
  'order-expired',
  'back-in-stock',
] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** An order as the mails show it. */
export interface MailOrder {
  readonly id: string;
  readonly items: ReadonlyArray<{ readonly name: string; readonly sku: string; readonly quantity: number; readonly unitPrice: number }>;
  readonly total: number;
  readonly currency: string;
  readonly shippingAddress: ShippingAddress | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  /** The charge, once paid. */
  readonly chargeId: string | null;
}

/** What every mail knows: who it greets and where the store is (links are left out without a store URL). */
export interface MailContext {
  readonly customerName: string;
  readonly storeUrl: string | undefined;
}

export type MailData =
  | { readonly template: 'welcome' }
  | { readonly template: 'order-confirmation' | 'payment-receipt' | 'order-shipped' | 'order-delivered' | 'order-expired'; readonly order: MailOrder }
  | { readonly template: 'order-cancelled'; readonly order: MailOrder; readonly refundDue: number }
  | { readonly template: 'back-in-stock'; readonly product: MailProduct };

/** A product as the back-in-stock mail names it. */
export interface MailProduct {
  readonly id: string;
  readonly name: string;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

/**
 * Renders one mail.
 *
 * @example
 * renderMail({ template: 'welcome' }, { customerName: 'Ada', storeUrl: 'https://shop.example' }).subject // 'Welcome to Emporium'
 */
export function renderMail(data: MailData, context: MailContext): RenderedMail {
  switch (data.template) {
    case 'welcome':
      return mail(
        'Welcome to Emporium',
        context,
        [paragraph('Your account is ready. Sign in with your e-mail address to see your orders and follow their shipments.')],
        context.storeUrl ? { label: 'Visit the store', href: context.storeUrl } : undefined,
      );
    case 'order-confirmation':
      return mail(
        `Order ${data.order.id} received`,
        context,
        [
          paragraph(`Thank you for your order ${data.order.id}. It is reserved for you until it is paid.`),
          lines(data.order),
          address(data.order.shippingAddress),
        ],
        orderLink(data.order, context),
      );
    case 'payment-receipt':
      return mail(
        `Receipt for order ${data.order.id}`,
        context,
        [
          paragraph(`We received your payment of ${money(data.order.total, data.order)} for order ${data.order.id}.`),
          ...(data.order.chargeId ? [paragraph(`Payment reference: ${data.order.chargeId}`)] : []),
          lines(data.order),
          paragraph('We will let you know when it ships.'),
        ],
        orderLink(data.order, context),
      );
    case 'order-shipped':
      return mail(
        `Order ${data.order.id} has shipped`,
        context,
        [
          paragraph(`Your order ${data.order.id} is on its way.`),
          fields([
            ['Carrier', data.order.carrier ?? 'to be confirmed'],
            ['Tracking number', data.order.trackingNumber ?? 'to be confirmed'],
          ]),
          address(data.order.shippingAddress),
        ],
        orderLink(data.order, context),
      );
    case 'order-delivered':
      return mail(
        `Order ${data.order.id} was delivered`,
        context,
        [paragraph(`Your order ${data.order.id} was delivered. We hope you enjoy it.`)],
        orderLink(data.order, context),
      );
    case 'order-cancelled':
      return mail(
        data.refundDue > 0 ? `Order ${data.order.id} cancelled and refunded` : `Order ${data.order.id} cancelled`,
        context,
        [
          paragraph(`Your order ${data.order.id} was cancelled.`),
          paragraph(
            data.refundDue > 0
              ? `You are being refunded ${money(data.refundDue, data.order)} to the card you paid with; it may take a few days to appear on your statement.`
              : 'You were not charged.',
          ),
        ],
        orderLink(data.order, context),
      );
    case 'order-expired':
      return mail(
        `Order ${data.order.id} expired`,
        context,
        [paragraph(`Your order ${data.order.id} was not paid in time and has expired; the items went back on the shelf. You were not charged.`)],
        context.storeUrl ? { label: 'Shop again', href: context.storeUrl } : undefined,
      );
    case 'back-in-stock': {
      // A name is one line in a subject, whatever the catalog holds.
      const name = data.product.name.replace(/\s+/g, ' ').trim();
      return mail(
        `${name} is back in stock`,
        context,
        [
          paragraph(`${name} is back in stock: you asked us to tell you, and it can be bought again now.`),
          paragraph('We tell you once; it may sell out again.'),
        ],
        context.storeUrl
          ? { label: 'See the product', href: `${context.storeUrl.replace(/\/+$/, '')}/products/${encodeURIComponent(data.product.id)}` }
          : undefined,
      );
    }
  }
}

/** A part of a mail body, in both forms. */
interface Block {
  readonly text: string;
  readonly html: string;
}

const money = (amount: number, order: Pick<MailOrder, 'currency'>) => formatMoney(amount, order.currency);

function paragraph(text: string): Block {
  return { text, html: `<p>${escapeHtml(text)}</p>` };
}

function fields(rows: ReadonlyArray<readonly [string, string]>): Block {
  return {
    text: rows.map(([label, value]) => `${label}: ${value}`).join('\n'),
    html: `<table>${rows.map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`).join('')}</table>`,
  };
}

function lines(order: MailOrder): Block {
  const rows = order.items.map((item) => ({ ...item, line: money(item.unitPrice * item.quantity, order) }));
  return {
    text: [...rows.map((row) => `${row.quantity} x ${row.name} (${row.sku})  ${row.line}`), `Total: ${money(order.total, order)}`].join('\n'),
    html:
      '<table>' +
      rows
        .map(
          (row) =>
            `<tr><td>${escapeHtml(row.quantity)} &times;</td><td>${escapeHtml(row.name)} (${escapeHtml(row.sku)})</td><td align="right">${escapeHtml(row.line)}</td></tr>`,
        )
        .join('') +
      `<tr><th colspan="2" align="left">Total</th><th align="right">${escapeHtml(money(order.total, order))}</th></tr></table>`,
  };
}

function address(shippingAddress: ShippingAddress | null): Block {
  if (!shippingAddress) return { text: '', html: '' };
  const parts = [
    shippingAddress.name,
    shippingAddress.line1,
    ...(shippingAddress.line2 ? [shippingAddress.line2] : []),
    `${shippingAddress.postalCode} ${shippingAddress.city}`,
    shippingAddress.country,
  ];
  return { text: `Shipping to:\n${parts.join('\n')}`, html: `<p>Shipping to:<br>${parts.map(escapeHtml).join('<br>')}</p>` };
}

function orderLink(order: MailOrder, context: MailContext): { label: string; href: string } | undefined {
  return context.storeUrl ? { label: 'See your order', href: `${context.storeUrl.replace(/\/+$/, '')}/orders/${encodeURIComponent(order.id)}` } : undefined;
}

function mail(subject: string, context: MailContext, blocks: readonly Block[], link: { label: string; href: string } | undefined): RenderedMail {
  const body = blocks.filter((block) => block.text !== '');
  const greeting = `Hello ${context.customerName},`;
  const text = [greeting, ...body.map((block) => block.text), ...(link ? [`${link.label}: ${link.href}`] : []), '-- \nEmporium'].join('\n\n');
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family: sans-serif; line-height: 1.4">',
    `<p>${escapeHtml(greeting)}</p>`,
    ...body.map((block) => block.html),
    ...(link ? [`<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>`] : []),
    '<p>Emporium</p>',
    '</body></html>',
  ].join('\n');
  return { subject, text: `${text}\n`, html: `${html}\n` };
}
