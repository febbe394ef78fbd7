// The REST API's requests and answers as zod schemas: validated by the gateway, published at /openapi.json.
import { z } from 'zod';
import { categoryViewSchema, customerViewSchema, productViewSchema } from './views.ts';

export const registerSchema = z
  .object({
    email: z.string().trim().email().max(320),
    password: z.string().min(8, 'password must be at least 8 characters').max(200),
    name: z.string().trim().min(1).max(200),
  })
  .strict();

export const loginSchema = z.object({ email: z.string().trim().min(1).max(320), password: z.string().min(1).max(200) }).strict();

export const PRODUCT_SORTS = ['name', 'price', '-price', 'newest'] as const;

const booleanQuery = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

export const productQuerySchema = z
  .object({
    category: z.string().min(1).max(100).optional().describe('a category id or slug'),
    q: z.string().trim().min(1).max(100).optional().describe('matches name, SKU, description and category name'),
    minPrice: z.coerce.number().int().min(0).optional(),
    maxPrice: z.coerce.number().int().min(0).optional(),
    inStock: booleanQuery.optional(),
    sort: z.enum(PRODUCT_SORTS).optional(),
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    pageSize: z.coerce.number().int().min(1).max(100).default(20),
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
export const productPageSchema = z.object({ items: z.array(productViewSchema), page: z.number().int(), pageSize: z.number().int(), total: z.number().int() });
