/**
 * Domain errors carry a meaning; the HTTP layer maps meanings to the result codes of API.md in one
 * place (routes/errors.ts). Services never speak HTTP.
 */
export type Entity = 'user' | 'store' | 'book' | 'order' | 'review'
type Unique = Exclude<Entity, 'order' | 'review'>

export type ErrorKind =
  | { kind: 'unauthorized' }
  | { kind: 'not_found'; entity: Entity }
  | { kind: 'exists'; entity: Unique }
  /** storeId: named when the request spans several stores (checkout). */
  | { kind: 'stock_low'; bookId: string; storeId?: string | undefined }
  | { kind: 'funds_low' }
  | {
      kind: 'order_state'
      state: 'not_shipped' | 'received' | 'shipped' | 'not_paid' | 'cancelled' | 'paid' | 'not_received'
    }
  | { kind: 'bad_request'; field: string }
  | { kind: 'rate_limited'; retryAfterS: number }

export class DomainError extends Error {
  override name = 'DomainError'
  constructor(
    readonly info: ErrorKind,
    message: string,
  ) {
    super(message)
  }
}

export const Unauthorized = (why = 'authorization fail') => new DomainError({ kind: 'unauthorized' }, why)
export const NotFound = (entity: Entity, id: string) =>
  new DomainError({ kind: 'not_found', entity }, `non exist ${entity} id: ${id}`)
export const Exists = (entity: Unique, id: string) =>
  new DomainError({ kind: 'exists', entity }, `exist ${entity} id: ${id}`)
export const StockLow = (bookId: string, storeId?: string) =>
  new DomainError(
    { kind: 'stock_low', bookId, storeId },
    storeId === undefined
      ? `stock level low, book id: ${bookId}`
      : `stock level low, store id: ${storeId}, book id: ${bookId}`,
  )
export const FundsLow = () => new DomainError({ kind: 'funds_low' }, 'not sufficient funds')
export const OrderState = (state: Extract<ErrorKind, { kind: 'order_state' }>['state'], orderId: string) =>
  new DomainError({ kind: 'order_state', state }, ORDER_STATE_MESSAGES[state](orderId))
export const RateLimited = (retryAfterS: number) =>
  new DomainError({ kind: 'rate_limited', retryAfterS }, `too many attempts: try again in ${retryAfterS} s`)
export const BadRequest = (field: string, why: string) =>
  new DomainError({ kind: 'bad_request', field }, `${field} ${why}`)

const ORDER_STATE_MESSAGES = {
  not_shipped: (id: string) => `order not shipped yet: ${id}`,
  received: (id: string) => `order already received: ${id}`,
  shipped: (id: string) => `order already shipped: ${id}`,
  not_paid: (id: string) => `order not paid: ${id}`,
  cancelled: (id: string) => `order cancelled or expired: ${id}`,
  paid: (id: string) => `order already paid: ${id}`,
  not_received: (id: string) => `order not received yet: ${id}`,
} as const

/** The result codes of API.md for each meaning. */
export function statusOf(info: ErrorKind): number {
  switch (info.kind) {
    case 'unauthorized':
      return 401
    case 'bad_request':
      return 400
    case 'rate_limited':
      return 429
    case 'not_found':
      return { user: 511, store: 513, book: 515, order: 518, review: 527 }[info.entity]
    case 'exists':
      return { user: 512, store: 514, book: 516 }[info.entity]
    case 'stock_low':
      return 517
    case 'funds_low':
      return 519
    case 'order_state':
      return {
        not_shipped: 520,
        received: 521,
        shipped: 522,
        not_paid: 523,
        cancelled: 524,
        paid: 525,
        not_received: 526,
      }[info.state]
  }
}

/**
 * Fields a refusal carries besides its message: a 517 of a checkout names the line short of stock
 * (store_id and book_id), so that a client can point at it.
 */
export function detailsOf(info: ErrorKind): Record<string, string> {
  if (info.kind === 'stock_low' && info.storeId !== undefined)
    return { store_id: info.storeId, book_id: info.bookId }
  return {}
}
