import { type TSchema, Type } from 'typebox'
import { LIMITS } from '../limits.ts'

/** Shared pieces of the request and response schemas. */
export const Id = (description: string) =>
  Type.String({ minLength: 1, maxLength: LIMITS.idLength, description })
export const UserId = Id('the acting user')
export const StoreId = Id('store id')
export const BookId = Id('book id (unique within its store)')
export const OrderId = Id('order id')
export const Password = Type.String({ minLength: 1, maxLength: LIMITS.passwordLength })

/** Every response body has a message: "ok", or why the request failed. */
export const Message = Type.String({ description: '"ok" on success, otherwise the reason' })
export const ErrorBody = Type.Object({ message: Message })

/** The 200 response with extra fields, and the error body for every other status. */
export function responses<P extends Record<string, TSchema>>(extra: P = {} as P) {
  return {
    200: Type.Object({ message: Message, ...extra }),
    '4xx': ErrorBody,
    '5xx': ErrorBody,
  }
}

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
