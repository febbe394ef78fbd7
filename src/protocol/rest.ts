// The REST API's requests and answers as zod schemas: validated by the gateway, published at /openapi.json.
import { z } from 'zod';
import { categoryViewSchema, customerViewSchema, productViewSchema, recommendationViewSchema, reviewViewSchema } from './views.ts';
import { lineText } from './wire.ts';

export const registerSchema = z
  .object({
    email: lineText().trim().email().max(320),
    password: z.string().min(8, 'password must be at least 8 characters').max(200),
    name: lineText().trim().min(1).max(200),
  })
  .strict();

export const loginSchema = z.object({ email: lineText().trim().min(1).max(320), password: z.string().min(1).max(200) }).strict();

/**
 * How a product listing is ordered; each value names the order a shopper expects: `relevance` best match first (the
 * default with `q`), `name` A to Z (the default without), `price` cheapest first, `-price` dearest first, `newest`
 * newest first, `rating` best rated first. Ties are broken by id, so pages never overlap.
 */
export const PRODUCT_SORTS = ['name', 'price', '-price', 'newest', 'relevance', 'rating'] as const;

const booleanQuery = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

export const productQuerySchema = z
  .object({
    category: lineText().min(1).max(100).optional().describe('a category id or slug: the products in it and in all its sub-categories'),
    q: lineText()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .describe('words to find in the name, SKU, category, attributes and description, all of them; the last one may be the start of a word'),
    minPrice: z.coerce.number().int().min(0).optional(),
    maxPrice: z.coerce.number().int().min(0).optional(),
    minRating: z.coerce.number().int().min(1).max(5).optional().describe('only products whose average rating is at least this many stars'),
    inStock: booleanQuery.optional(),
    sort: z.enum(PRODUCT_SORTS).optional().describe('default: relevance with q, name without'),
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    pageSize: z.coerce.number().int().min(1).max(100).default(20),
    cursor: lineText().min(1).max(1000).optional().describe("a previous answer's nextCursor: the page after it (page is then ignored)"),
  })
  // Unknown parameters (cache-busters, tracking tags) are ignored, as browsers and CDNs expect.
  .strip();

export const tokenAnswerSchema = z.object({ token: z.string(), guestId: z.string() });
export const sessionAnswerSchema = z.object({
  token: z.string(),
  customer: customerViewSchema,
  adoptedCarts: z.array(z.string()).describe('guest carts moved to this account (send the guest token as the bearer)'),
});
export const meAnswerSchema = z.object({
  identity: z.object({ sub: z.string(), role: z.enum(['guest', 'customer', 'staff', 'admin']), name: z.string().optional(), email: z.string().optional() }),
  customer: customerViewSchema.nullable(),
});
export const categoriesAnswerSchema = z.object({ items: z.array(categoryViewSchema) });

const facetCount = z.number().int().min(0);
/** Counts over every product that matches the query (all its filters applied), not only the page. */
export const productFacetsSchema = z.object({
  categories: z
    .array(z.object({ id: z.string(), slug: z.string(), name: z.string(), count: facetCount }))
    .describe('the categories the matches are in, each product counted in its own category only: the counts add up to total'),
  price: z
    .array(z.object({ min: z.number().int(), max: z.number().int().nullable(), count: facetCount }))
    .describe('fixed price buckets, min <= price < max (max null: no upper bound), every bucket even when empty: the counts add up to total'),
  rating: z
    .array(z.object({ min: z.number().int().min(1).max(4), count: facetCount }))
    .describe('how many matches are rated at least min stars on average, for min 4, 3, 2 and 1'),
});
export const productPageSchema = z.object({
  items: z.array(productViewSchema),
  page: z.number().int(),
  pageSize: z.number().int(),
  total: z.number().int().describe('how many products match, across all pages'),
  nextCursor: z.string().nullable().describe('pass as cursor for the page after this one; null on the last page'),
  facets: productFacetsSchema,
});
export type ProductFacets = z.infer<typeof productFacetsSchema>;
export type ProductPage = z.infer<typeof productPageSchema>;

/** `GET /api/search/suggest`: what a search box shows while the shopper types. */
export const searchSuggestQuerySchema = z
  .object({ q: lineText().trim().max(100).default('').describe('what has been typed so far; the last word may be unfinished') })
  .strip();
export const searchSuggestAnswerSchema = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string() })).describe('at most 8 products on sale, best match first'),
});
export type SearchSuggestions = z.infer<typeof searchSuggestAnswerSchema>;

/** `PATCH /api/me`: a new name, or a new e-mail (with the current password). */
export const profileUpdateSchema = z
  .object({
    name: lineText().trim().min(1).max(200).optional(),
    email: lineText().trim().email().max(320).optional(),
    currentPassword: z.string().min(1).max(200).optional().describe('required to change the e-mail'),
  })
  .strict()
  .refine((body) => body.name !== undefined || body.email !== undefined, 'give a name or an email to change');
export const profileAnswerSchema = z.object({
  customer: customerViewSchema,
  token: z.string().describe('carries the new name and e-mail; older tokens stay valid'),
});

/** `POST /api/me/password`. */
export const passwordChangeSchema = z
  .object({ currentPassword: z.string().min(1).max(200), newPassword: z.string().min(8, 'password must be at least 8 characters').max(200) })
  .strict();
export const passwordAnswerSchema = z.object({ token: z.string().describe('the only token that still works: every other session ended') });

/** `DELETE /api/me`. */
export const accountDeletionSchema = z.object({ password: z.string().min(1).max(200) }).strict();

/** `GET /api/products/:id/reviews`. */
export const reviewQuerySchema = z
  .object({
    sort: z.enum(['newest', 'helpful']).default('newest').describe('newest first, or most helpful first (ties newest first)'),
    limit: z.coerce.number().int().min(1).max(50).default(10),
    cursor: lineText().min(1).max(200).optional().describe("the previous page's nextCursor"),
  })
  .strip();
export const reviewPageSchema = z.object({ items: z.array(reviewViewSchema), nextCursor: z.string().nullable() });

/** The most recommendations one answer (or push) holds. */
export const MAX_RECOMMENDATIONS = 20;

/** `GET /api/products/:id/recommendations`. */
export const recommendationQuerySchema = z
  .object({ limit: z.coerce.number().int().min(1).max(MAX_RECOMMENDATIONS).default(6).describe('how many recommendations, at most') })
  .strip();
export const recommendationsAnswerSchema = z.object({
  recommendations: z
    .array(recommendationViewSchema)
    .describe('best first: bought together with the product, then best sellers of its category, then other products of it; never archived or out of stock'),
});
