/**
 * An order as the API shows it: the schema the routes answer with (it also strips any other field),
 * and the type the order service builds, derived from it.
 */
import { type Static, Type } from 'typebox'

export const OrderStatus = Type.Union(
  [
    Type.Literal('unpaid'),
    Type.Literal('paid'),
    Type.Literal('shipped'),
    Type.Literal('received'),
    Type.Literal('cancelled'),
  ],
  { description: 'order status' },
)

const Time = Type.Union([Type.String({ description: 'ISO-8601 UTC' }), Type.Null()])

export const Order = Type.Object({
  order_id: Type.String(),
  buyer_id: Type.String(),
  store_id: Type.String(),
  status: OrderStatus,
  cancel_reason: Type.Union([
    Type.Literal('buyer'),
    Type.Literal('seller'),
    Type.Literal('timeout'),
    Type.Null(),
  ]),
  total_price: Type.Integer({ description: 'cents' }),
  created_at: Type.String({ description: 'ISO-8601 UTC' }),
  expires_at: Type.String({ description: 'ISO-8601 UTC: the payment deadline' }),
  paid_at: Time,
  shipped_at: Time,
  received_at: Time,
  cancelled_at: Time,
  items: Type.Array(
    Type.Object({
      book_id: Type.String(),
      title: Type.String({ description: 'as it was when ordered' }),
      count: Type.Integer(),
      price: Type.Integer({ description: 'cents, as it was when ordered' }),
    }),
  ),
})
export type ApiOrder = Static<typeof Order>

/** A page of a buyer's or a seller's orders (the 200 answer has these fields and its message). */
export const OrderPage = Type.Object({
  orders: Type.Array(Order),
  total: Type.Integer({ description: 'orders matching the filter, on all pages' }),
  page: Type.Integer(),
  page_size: Type.Integer(),
})
export type OrderList = Static<typeof OrderPage>
