// A product's ratings and reviews: the aggregate (live on the product's topic), the listing (`GET
// /api/products/:id/reviews`, read again whenever a `rating:changed` push moves the aggregate), "Helpful" votes
// (`review:vote`, once per customer, never on one's own), and the signed-in customer's own review: written
// (`review:create`, only once an order with the product was delivered), edited (`review:update`) and deleted
// (`review:delete`, after a confirmation). Every refusal of the protocol is told as a sentence.
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { EmporiumError, type ProductView, type ReviewView, type StoreConnection } from '../../src/client/index.ts';
import { api } from '../shared/session.ts';
import { ErrorNote, formatTime } from '../shared/ui.tsx';
import { href } from './router.ts';
import { describeError, useShop } from './shop.tsx';
import { Field, Stars } from './widgets.tsx';

type ReviewPage = { items: ReviewView[]; nextCursor: string | null };
type Sort = 'newest' | 'helpful';

const listing = (productId: string) => `/api/products/${encodeURIComponent(productId)}/reviews`;

/** A review of the listing by its id, looked for page by page (a handful of requests at most). */
async function findReview(productId: string, reviewId: string): Promise<ReviewView | null> {
  let cursor: string | null = null;
  for (let pages = 0; pages < 20; pages++) {
    const page: ReviewPage = await api<ReviewPage>(`${listing(productId)}?limit=50&sort=newest${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const found = page.items.find((review) => review.id === reviewId);
    if (found) return found;
    cursor = page.nextCursor;
    if (!cursor) return null;
  }
  return null;
}

/**
 * Which review of a product is this customer's. The listing does not say whose a review is, so the page remembers
 * the id the store answered (`review:create`, or the `ALREADY_REVIEWED` refusal's `details.reviewId`), per account,
 * in this browser; elsewhere the refusal finds it again at the first attempt to write another.
 */
const ownReviews = {
  key: (customerId: string) => `emporium:storefront:reviews:${customerId}`,
  all(customerId: string): Record<string, string> {
    try {
      const kept = JSON.parse(localStorage.getItem(this.key(customerId)) ?? '{}') as unknown;
      return kept && typeof kept === 'object' ? (kept as Record<string, string>) : {};
    } catch {
      return {};
    }
  },
  get(customerId: string, productId: string): string | null {
    return this.all(customerId)[productId] ?? null;
  },
  set(customerId: string, productId: string, reviewId: string | null): void {
    const all = this.all(customerId);
    if (reviewId) all[productId] = reviewId;
    else delete all[productId];
    localStorage.setItem(this.key(customerId), JSON.stringify(all));
  },
};

/** Whether one of the customer's delivered orders holds the product (their order history, a page at a time). */
async function received(conn: StoreConnection, productId: string): Promise<boolean> {
  let before: string | undefined;
  for (let pages = 0; pages < 20; pages++) {
    const page = await conn.read('orders:list', { state: 'delivered', limit: 100, ...(before ? { before } : {}) });
    if (page.orders.some((order) => order.items.some((line) => line.productId === productId))) return true;
    if (!page.nextCursor) return false;
    before = page.nextCursor;
  }
  return false;
}

const NOT_DELIVERED = 'Only customers who received this product can review it. You can write a review once an order with it has been delivered to you.';

const reasonOf = (error: unknown) => (error instanceof EmporiumError ? (error.details as { reason?: string } | undefined)?.reason : undefined);

/** Once the change has rendered, focuses the first of these elements that is there (else the reviews' section). */
const focusLater = (...ids: string[]) =>
  setTimeout(() => (ids.map((id) => document.getElementById(id)).find(Boolean) ?? document.getElementById('reviews'))?.focus(), 0);

/** Whether the signed-in customer may write a review here. */
type Standing = 'guest' | 'checking' | 'eligible' | 'notDelivered';

interface Draft {
  readonly rating: number;
  readonly title: string;
  readonly body: string;
}

export function Reviews({ product }: { product: ProductView }) {
  const shop = useShop();
  const customerId = shop.account?.id ?? null;
  const [sort, setSort] = useState<Sort>('newest');
  const [reviews, setReviews] = useState<readonly ReviewView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [standing, setStanding] = useState<Standing>('guest');
  // The customer's own review: its id (known) and its view (when it is listed).
  const [mineId, setMineId] = useState<string | null>(null);
  const [mine, setMine] = useState<ReviewView | null>(null);
  const [editing, setEditing] = useState<{ mode: 'create' | 'edit'; draft: Draft; note: string | null } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [voted, setVoted] = useState<ReadonlySet<string>>(new Set());
  const [voteNotes, setVoteNotes] = useState<Readonly<Record<string, string>>>({});
  const ids = { write: useId(), mine: useId(), form: useId() };

  const base = `${listing(product.id)}?limit=5&sort=${sort}`;
  // A new rating (a review written, hidden or changed) reads the first page again.
  useEffect(() => {
    let gone = false;
    api<ReviewPage>(base)
      .then((page) => {
        if (gone) return;
        setReviews(page.items);
        setCursor(page.nextCursor);
        setLoaded(true);
        setError(null);
      })
      .catch((failure: unknown) => !gone && setError(describeError(failure)));
    return () => {
      gone = true;
    };
  }, [base, product.rating.count, product.rating.average]);

  // Who is looking: a guest, or a customer who may (or may not yet) review the product, perhaps with a review already.
  useEffect(() => {
    setMine(null);
    setMineId(null);
    setEditing(null);
    setNote(null);
    if (!shop.token) {
      setStanding('checking');
      return;
    }
    if (!customerId) {
      setStanding('guest');
      return;
    }
    setStanding('checking');
    const conn = shop.conn;
    if (!conn) return;
    let gone = false;
    (async () => {
      const kept = ownReviews.get(customerId, product.id);
      if (kept) {
        const found = await findReview(product.id, kept).catch(() => null);
        if (gone) return;
        if (found) {
          setMineId(found.id);
          setMine(found);
          setStanding('eligible');
          return;
        }
        // Deleted elsewhere (or hidden by staff): the store says which at the next attempt.
        ownReviews.set(customerId, product.id, null);
      }
      const got = await received(conn, product.id).catch(() => true);
      if (!gone) setStanding(got ? 'eligible' : 'notDelivered');
    })();
    return () => {
      gone = true;
    };
  }, [shop.token, customerId, shop.conn, product.id]);

  // The listing holds the newest view of the own review (a push re-read it).
  useEffect(() => {
    if (!mineId) return;
    const listed = reviews.find((review) => review.id === mineId);
    if (listed && (!mine || listed.updatedAt >= mine.updatedAt)) setMine(listed);
  }, [reviews, mineId]);

  const more = async () => {
    if (!cursor) return;
    try {
      const page = await api<ReviewPage>(`${base}&cursor=${encodeURIComponent(cursor)}`);
      setReviews((held) => [...held, ...page.items.filter((r) => !held.some((h) => h.id === r.id))]);
      setCursor(page.nextCursor);
    } catch (failure) {
      setError(describeError(failure));
    }
  };

  const keepMine = (review: ReviewView) => {
    setMineId(review.id);
    setMine(review);
    if (customerId) ownReviews.set(customerId, product.id, review.id);
    setReviews((held) => {
      const listed = held.some((r) => r.id === review.id);
      if (listed) return held.map((r) => (r.id === review.id ? review : r));
      return sort === 'newest' && !review.hidden ? [review, ...held] : held;
    });
  };
  const forgetMine = () => {
    if (mineId) setReviews((held) => held.filter((r) => r.id !== mineId));
    setMineId(null);
    setMine(null);
    if (customerId) ownReviews.set(customerId, product.id, null);
  };

  /** Sends the form; a sentence for the form when refused (null when it went through). */
  const submit = async (draft: Draft): Promise<string | null> => {
    const conn = shop.conn;
    if (!conn || !editing) return 'Not connected to the store yet; please try again in a moment.';
    try {
      if (editing.mode === 'edit' && mineId) {
        const { review } = await conn.call('review:update', { reviewId: mineId, rating: draft.rating, title: draft.title, body: draft.body });
        keepMine(review);
        setEditing(null);
        setNote('Your review is saved.');
        shop.announce('Your review is saved.');
      } else {
        const { review } = await conn.call('review:create', { productId: product.id, ...draft });
        keepMine(review);
        setEditing(null);
        setNote('Thank you: your review is posted.');
        shop.announce('Thank you: your review is posted.');
      }
      focusLater(ids.mine);
      return null;
    } catch (failure) {
      const reason = reasonOf(failure);
      if (reason === 'NOT_DELIVERED') {
        setStanding('notDelivered');
        return NOT_DELIVERED;
      }
      if (reason === 'SIGN_IN') return 'Sign in to write a review.';
      if (reason === 'ALREADY_REVIEWED') {
        // Written earlier (on another device, say): what was typed can replace it.
        const reviewId = (failure as EmporiumError & { details: { reviewId?: string | null } }).details.reviewId ?? null;
        if (reviewId) {
          setMineId(reviewId);
          if (customerId) ownReviews.set(customerId, product.id, reviewId);
          findReview(product.id, reviewId)
            .then((found) => found && setMine(found))
            .catch(() => undefined);
          setEditing({
            mode: 'edit',
            draft,
            note: 'You have reviewed this product before. Save to replace your earlier review with this one, or cancel to keep it.',
          });
          return null;
        }
        return describeError(failure);
      }
      if (failure instanceof EmporiumError && failure.code === 'NOT_FOUND' && editing.mode === 'edit') {
        forgetMine();
        setEditing({ mode: 'create', draft, note: 'Your earlier review no longer exists. Post this one as a new review, or cancel.' });
        return null;
      }
      if (failure instanceof EmporiumError && failure.code === 'FORBIDDEN') return 'This review is not yours, so you cannot change it.';
      return describeError(failure);
    }
  };

  const remove = async (): Promise<string | null> => {
    const conn = shop.conn;
    if (!conn || !mineId) return 'Not connected to the store yet; please try again in a moment.';
    try {
      await conn.call('review:delete', { reviewId: mineId });
    } catch (failure) {
      if (!(failure instanceof EmporiumError && failure.code === 'NOT_FOUND')) return describeError(failure);
    }
    forgetMine();
    setStanding('eligible');
    setNote('Your review is deleted.');
    shop.announce('Your review is deleted.');
    focusLater(ids.write);
    return null;
  };

  const vote = async (review: ReviewView) => {
    const conn = shop.conn;
    if (!conn || voted.has(review.id)) return;
    const say = (text: string) => setVoteNotes((held) => ({ ...held, [review.id]: text }));
    try {
      const answer = await conn.call('review:vote', { reviewId: review.id });
      setVoted((held) => new Set(held).add(review.id));
      setReviews((held) => held.map((r) => (r.id === review.id ? answer.review : r)));
      say('Thank you for your vote.');
    } catch (failure) {
      const reason = reasonOf(failure);
      if (reason === 'ALREADY_VOTED') {
        setVoted((held) => new Set(held).add(review.id));
        say('You have already voted for this review.');
      } else if (reason === 'OWN_REVIEW') {
        setMineId(review.id);
        setMine(review);
        if (customerId) ownReviews.set(customerId, product.id, review.id);
        say('This is your own review: you cannot vote for it.');
      } else if (reason === 'SIGN_IN') say('Sign in to vote for reviews.');
      else if (failure instanceof EmporiumError && failure.code === 'NOT_FOUND') say('This review is no longer shown.');
      else say(describeError(failure));
    }
  };

  const startWriting = () => {
    setNote(null);
    setEditing({ mode: 'create', draft: { rating: 0, title: '', body: '' }, note: null });
  };
  const startEditing = () => {
    if (!mine) return;
    setNote(null);
    setEditing({ mode: 'edit', draft: { rating: mine.rating, title: mine.title, body: mine.body }, note: null });
  };
  const stopEditing = () => {
    const mode = editing?.mode;
    setEditing(null);
    focusLater(...(mode === 'edit' && mineId ? [ids.mine] : []), ids.write);
  };

  const histogram = product.rating.histogram;
  const sortId = useId();
  return (
    <section id="reviews" aria-labelledby="reviews-heading" tabIndex={-1}>
      <h2 id="reviews-heading">Ratings and reviews</h2>
      <p data-testid="rating-summary">
        <Stars average={product.rating.average} count={product.rating.count} />
      </p>
      {product.rating.count > 0 && (
        <ul class="histogram" aria-label="How the ratings spread">
          {[5, 4, 3, 2, 1].map((stars) => (
            <li key={stars} class="row">
              <span class="histogram-label">{stars === 1 ? '1 star' : `${stars} stars`}</span>
              <meter min={0} max={product.rating.count} value={histogram[stars - 1] ?? 0} aria-label={stars === 1 ? '1 star' : `${stars} stars`} />
              <span class="muted">{histogram[stars - 1] ?? 0}</span>
            </li>
          ))}
        </ul>
      )}

      <div class="review-action" data-testid="review-action">
        {editing ? (
          <ReviewForm
            key={`${editing.mode}-${mineId ?? ''}`}
            id={ids.form}
            mode={editing.mode}
            draft={editing.draft}
            note={editing.note}
            onSubmit={submit}
            onCancel={stopEditing}
          />
        ) : standing === 'guest' ? (
          <p>
            <a href={`${href.account()}?next=${encodeURIComponent(`product/${product.id}`)}`}>Sign in to write a review</a>
            <span class="muted"> (customers who received the product can review it and vote for helpful reviews)</span>
          </p>
        ) : mineId ? (
          <MyReview id={ids.mine} review={mine} onEdit={startEditing} onDelete={remove} />
        ) : standing === 'checking' ? (
          <p class="muted">Checking whether you can review this product…</p>
        ) : standing === 'notDelivered' ? (
          <p class="review-refusal" data-testid="review-refusal">
            {NOT_DELIVERED}
          </p>
        ) : (
          <button type="button" id={ids.write} onClick={startWriting} disabled={!shop.conn}>
            Write a review
          </button>
        )}
        {note && !editing && (
          <p class="ok" role="status" data-testid="review-note">
            {note}
          </p>
        )}
      </div>

      <ErrorNote error={error} />
      {loaded && reviews.length === 0 && <p class="muted">No reviews yet. Customers can review a product once it has been delivered to them.</p>}
      {reviews.length > 0 && (
        <>
          <div class="row">
            <label for={sortId}>Sort reviews</label>
            <select id={sortId} value={sort} onChange={(e) => setSort(e.currentTarget.value as Sort)}>
              <option value="newest">Newest first</option>
              <option value="helpful">Most helpful first</option>
            </select>
          </div>
          <ul class="reviews" aria-label="Reviews">
            {reviews.map((review) => (
              <ReviewItem
                key={review.id}
                review={review}
                own={review.id === mineId}
                canVote={standing !== 'guest' && !!shop.conn}
                voted={voted.has(review.id)}
                note={voteNotes[review.id] ?? null}
                onVote={() => vote(review)}
              />
            ))}
          </ul>
          {cursor && (
            <button type="button" class="secondary" onClick={more}>
              More reviews
            </button>
          )}
        </>
      )}
    </section>
  );
}

const helpfulText = (n: number) => (n === 1 ? '1 person found this helpful' : `${n} people found this helpful`);

function ReviewItem({
  review,
  own,
  canVote,
  voted,
  note,
  onVote,
}: {
  review: ReviewView;
  own: boolean;
  canVote: boolean;
  voted: boolean;
  note: string | null;
  onVote: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const headingId = useId();
  const click = async () => {
    if (voted || busy) return;
    setBusy(true);
    try {
      await onVote();
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="card review" data-testid="review" data-review-id={review.id} aria-labelledby={headingId}>
      <h3 class="review-title" id={headingId}>
        {review.title}
      </h3>
      <p>
        <Stars average={review.rating} count={1} showCount={false} /> by {review.authorName}, {formatTime(review.createdAt)}
        {review.updatedAt > review.createdAt && <span class="muted"> (edited)</span>}
        {own && <span class="badge own-badge"> Your review</span>}
      </p>
      {review.body && <p class="review-body">{review.body}</p>}
      <div class="row review-votes">
        {review.helpful > 0 && (
          <span class="muted" data-testid="helpful-count">
            {helpfulText(review.helpful)}
          </span>
        )}
        {canVote && !own && (
          // aria-disabled rather than disabled: the button keeps the focus once used, and says why it is off.
          <button type="button" class="secondary helpful-button" aria-disabled={voted || busy ? 'true' : undefined} onClick={click}>
            {voted ? 'You voted: helpful' : 'Helpful'}
            <span class="visually-hidden">: {review.title}</span>
          </button>
        )}
        {note && (
          <span class="muted" role="status" data-testid="vote-note">
            {note}
          </span>
        )}
      </div>
    </li>
  );
}

/** The customer's own review with its Edit and Delete (Delete asks first). */
function MyReview({ id, review, onEdit, onDelete }: { id: string; review: ReviewView | null; onEdit: () => void; onDelete: () => Promise<string | null> }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const keepId = useId();
  const deleteId = useId();
  const ask = () => {
    setError(null);
    setConfirming(true);
    focusLater(keepId);
  };
  const keep = () => {
    setConfirming(false);
    focusLater(deleteId);
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    const problem = await onDelete();
    setBusy(false);
    if (problem) {
      setError(problem);
      setConfirming(false);
    }
  };
  return (
    <section class="card my-review" aria-labelledby={id} data-testid="my-review">
      <h3 id={id} tabIndex={-1}>
        Your review
      </h3>
      {review ? (
        <>
          <p>
            <Stars average={review.rating} count={1} showCount={false} /> <strong>{review.title}</strong>
          </p>
          {review.body && <p class="review-body">{review.body}</p>}
          {review.hidden && <p class="warn">Staff have hidden this review: other shoppers do not see it.</p>}
        </>
      ) : (
        <p class="muted">You have reviewed this product; your review is not in the listing (staff may have hidden it).</p>
      )}
      {confirming ? (
        <fieldset class="confirm">
          <legend>Delete your review? This cannot be undone.</legend>
          <button type="button" class="danger" onClick={confirm} disabled={busy}>
            {busy ? 'Deleting…' : 'Yes, delete it'}
          </button>
          <button type="button" class="secondary" id={keepId} onClick={keep}>
            Keep it
          </button>
        </fieldset>
      ) : (
        <p class="row">
          {review && (
            <button type="button" class="secondary" onClick={onEdit}>
              Edit review
            </button>
          )}
          <button type="button" class="secondary" id={deleteId} onClick={ask}>
            Delete review
          </button>
        </p>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

const STAR_NAMES = ['1 star', '2 stars', '3 stars', '4 stars', '5 stars'] as const;

/** Writing or editing a review: 1–5 stars (a radio group: arrow keys move between them), a title and the text. */
function ReviewForm({
  id,
  mode,
  draft,
  note,
  onSubmit,
  onCancel,
}: {
  id: string;
  mode: 'create' | 'edit';
  draft: Draft;
  /** Why the form is shown again (the store refused the last attempt). */
  note: string | null;
  onSubmit: (draft: Draft) => Promise<string | null>;
  onCancel: () => void;
}) {
  const [rating, setRating] = useState(draft.rating);
  const [title, setTitle] = useState(draft.title);
  const [body, setBody] = useState(draft.body);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(note);
  const [invalid, setInvalid] = useState<'rating' | 'title' | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const group = useId();
  useEffect(() => heading.current?.focus(), []);
  // What was missing is there now: the sentence about it goes.
  const fixed = () => {
    setInvalid(null);
    setError(null);
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setInvalid(null);
    if (rating < 1 || rating > 5) {
      setInvalid('rating');
      setError('Choose a rating from 1 to 5 stars.');
      document.getElementById(`${group}-${rating || 1}`)?.focus();
      return;
    }
    if (!title.trim()) {
      setInvalid('title');
      setError('Give your review a title.');
      document.getElementById(`${id}-title`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const problem = await onSubmit({ rating, title: title.trim(), body: body.trim() });
      if (problem) setError(problem);
    } finally {
      setBusy(false);
    }
  };
  const headingText = mode === 'edit' ? 'Edit your review' : 'Write a review';
  return (
    <form class="card review-form" onSubmit={submit} noValidate aria-labelledby={`${id}-heading`} data-testid="review-form">
      <h3 id={`${id}-heading`} tabIndex={-1} ref={heading}>
        {headingText}
      </h3>
      <fieldset class={invalid === 'rating' ? 'rating-choice invalid' : 'rating-choice'}>
        <legend>Your rating</legend>
        <div class="rating-options">
          {STAR_NAMES.map((name, index) => {
            const stars = index + 1;
            return (
              <div class="radio" key={stars}>
                <input
                  type="radio"
                  id={`${group}-${stars}`}
                  name={`${group}-rating`}
                  value={String(stars)}
                  checked={rating === stars}
                  required
                  onChange={() => {
                    setRating(stars);
                    if (invalid === 'rating') fixed();
                  }}
                />
                <label for={`${group}-${stars}`}>
                  <span aria-hidden="true" class="star-glyphs">
                    {'★'.repeat(stars)}
                    {'☆'.repeat(5 - stars)}
                  </span>{' '}
                  {name}
                </label>
              </div>
            );
          })}
        </div>
      </fieldset>
      <div class="field">
        <label for={`${id}-title`}>Title</label>
        <input
          id={`${id}-title`}
          maxLength={120}
          required
          aria-invalid={invalid === 'title' ? 'true' : undefined}
          value={title}
          onInput={(e) => {
            setTitle(e.currentTarget.value);
            if (invalid === 'title') fixed();
          }}
        />
      </div>
      <Field label="Your review" hint="Optional: what you liked, what you did not (up to 5,000 characters).">
        {(props) => <textarea {...props} rows={5} maxLength={5000} value={body} onInput={(e) => setBody(e.currentTarget.value)} />}
      </Field>
      <ErrorNote error={error} />
      <p class="row">
        <button type="submit" disabled={busy}>
          {busy ? 'Sending…' : mode === 'edit' ? 'Save changes' : 'Post review'}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </p>
    </form>
  );
}
