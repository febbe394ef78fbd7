// Small shared pieces of the pages: money, times, a countdown, a polite live region, and the page header.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { formatMoney } from '../../src/client/money.ts';

export function Money({ amount, currency = 'EUR' }: { amount: number; currency?: string }) {
  return <span class="money">{formatMoney(amount, currency)}</span>;
}

/** A price with its list price struck through when an offer makes the difference. */
export function Price({ price, listPrice, currency = 'EUR' }: { price: number; listPrice?: number | undefined; currency?: string }) {
  if (listPrice === undefined || listPrice === price) return <Money amount={price} currency={currency} />;
  return (
    <span class="price offer-price">
      <Money amount={price} currency={currency} />{' '}
      <s>
        <span class="visually-hidden">was </span>
        <Money amount={listPrice} currency={currency} />
      </s>
    </span>
  );
}

export const formatTime = (at: number) => new Date(at).toLocaleString();

/** Re-renders every second until `to`; shows the time left as `1d 02:03:04` (or `now`). */
export function Countdown({ to, label }: { to: number; label?: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = Math.max(0, to - now);
  const s = Math.floor(left / 1000);
  const text =
    left === 0
      ? 'now'
      : `${s >= 86_400 ? `${Math.floor(s / 86_400)}d ` : ''}${[Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60].map((n) => String(n).padStart(2, '0')).join(':')}`;
  return (
    <span class="countdown">
      <span class="visually-hidden">{label ?? 'time left'}: </span>
      <time dateTime={new Date(to).toISOString()}>{text}</time>
    </span>
  );
}

/** Announces changes to screen readers (a push moved a number, an error happened) without moving focus. */
export function LiveRegion({ message }: { message: string }) {
  return (
    <div class="visually-hidden" role="status" aria-live="polite">
      {message}
    </div>
  );
}

export function ErrorNote({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <span class="brand">{title}</span>
      <nav aria-label="Main">{children}</nav>
    </header>
  );
}
