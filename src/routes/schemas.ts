import { type TSchema, Type } from 'typebox'
import { OrderPage, OrderStatus } from '../api/orders.ts'
import { LIMITS } from '../limits.ts'

/** Shared pieces of the request and response schemas. */
export const Id = (description: string) =>
  Type.String({ minLength: 1, maxLength: LIMITS.idLength, description })
export const UserId = Id('the acting user')
export const StoreId = Id('store id')
export const BookId = Id('book id (unique within its store)')
export const OrderId = Id('order id')
export const Password = Type.String({ minLength: 1, maxLength: LIMITS.passwordLength })
export const ReviewId = Type.String({ minLength: 1, maxLength: LIMITS.idLength, description: 'review id' })
export const EXAMPLE_REVIEW_ID = '5b0e9d8e-7f0c-4c53-9d2c-1f7a3c2b9e41'

/** The body of an order action by its buyer or its store's owner (ship, receive, cancel). */
export const OrderAction = Type.Object({ user_id: UserId, order_id: OrderId })

/** The query of an order list (buyer's or seller's): a status filter, then paging. */
export const OrderPaging = {
  status: Type.Optional(OrderStatus),
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
}

/** Every response body has a message: "ok", or why the request failed. */
export const Message = Type.String({ description: '"ok" on success, otherwise the reason' })
export const ErrorBody = Type.Object({ message: Message })

/** What each result code means (API.md), for the OpenAPI description of every route. */
export const RESULT_CODES = {
  400: 'malformed request: a field is missing, of the wrong type or out of range (the message names it)',
  401: 'authorization failure: wrong password, missing/expired/foreign token, or not your store/order',
  404: 'no such route or resource',
  413: 'request body too large',
  511: 'user id does not exist',
  512: 'user id already exists',
  513: 'store id does not exist',
  514: 'store id already exists',
  515: 'book id does not exist (in that store)',
  516: 'book id already exists (in that store)',
  517: 'stock level too low',
  518: 'order id does not exist',
  519: 'not sufficient funds',
  520: 'order not shipped yet (cannot be received)',
  521: 'order already received',
  522: 'order already shipped',
  523: 'order not paid (cannot be shipped)',
  524: 'order cancelled or expired',
  525: 'order already paid',
  526: 'order not received yet (cannot be reviewed)',
  527: 'review id does not exist',
} as const
export type ResultCode = keyof typeof RESULT_CODES

/**
 * The response schemas of a route: 200 with the extra fields, each result code the route can
 * answer with its meaning, and a catch-all error body. They also act as an allow-list of fields.
 */
export function responses<P extends Record<string, TSchema>>(
  extra: P = {} as P,
  codes: readonly ResultCode[] = [],
) {
  const out: Record<string, TSchema> = {
    200: Type.Object({ message: Message, ...extra }, { description: 'ok' }),
  }
  for (const code of [400, ...codes] as const)
    out[code] = Type.Object({ message: Message }, { description: RESULT_CODES[code] })
  out['4xx'] = Type.Object({ message: Message }, { description: 'other client errors (e.g. 404, 413, 429)' })
  out['5xx'] = Type.Object(
    { message: Message },
    {
      description:
        'a server error other than the result codes listed above: 503 when the database is unavailable ' +
        '(try again after Retry-After), 500 for an unexpected failure (details are logged, not returned)',
    },
  )
  return out as { 200: ReturnType<typeof Type.Object<{ message: typeof Message } & P>> } & Record<
    string,
    TSchema
  >
}

/** OpenAPI security of routes that take a session token. */
export const TOKEN_SECURITY: { [scheme: string]: string[] }[] = [{ token: [] }, { bearer: [] }]

/** The answer of an order list: one page of orders. */
export const OrderList = responses(OrderPage.properties, [401])

const Nullable = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]))
const ShortText = Type.String({ maxLength: 4096 })
const LongText = Type.String({ maxLength: 1_000_000 })

export const BookInfo = Type.Object(
  {
    id: BookId,
    title: Type.String({ minLength: 1, maxLength: 4096 }),
    price: Type.Integer({ minimum: 0, maximum: LIMITS.maxPrice, description: 'cents' }),
    author: Nullable(ShortText),
    publisher: Nullable(ShortText),
    original_title: Nullable(ShortText),
    translator: Nullable(ShortText),
    pub_year: Nullable(Type.Union([Type.String({ maxLength: 64 }), Type.Integer()])),
    pages: Nullable(Type.Integer({ minimum: 0, maximum: LIMITS.maxStock })),
    binding: Nullable(ShortText),
    isbn: Nullable(Type.String({ maxLength: 64 })),
    author_intro: Nullable(LongText),
    book_intro: Nullable(LongText),
    content: Nullable(LongText),
    tags: Nullable(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 1000 })),
    pictures: Nullable(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', description: 'base64 image bytes' }), {
        maxItems: LIMITS.maxPictures,
      }),
    ),
  },
  { additionalProperties: true, description: 'Unknown extra fields (e.g. currency_unit) are kept.' },
)

/** The schema with an example request body, for the OpenAPI description and Swagger UI. */
export function withExample<T extends TSchema>(schema: T, example: Record<string, unknown>): T {
  return { ...schema, examples: [example] }
}
