/**
 * Request bodies the tests send most, each built from the actors it needs, with overrides for the
 * field a test spoils: `bodies.payment(buyer, orderId, { password: 'wrong' })`.
 */
import type { User } from './helpers.ts'

type Overrides = Record<string, unknown>

export const bodies = {
  register: (userId: string, password: string, over: Overrides = {}) => ({
    user_id: userId,
    password,
    ...over,
  }),
  login: (user: Pick<User, 'userId' | 'password'>, terminal = 'test terminal', over: Overrides = {}) => ({
    user_id: user.userId,
    password: user.password,
    terminal,
    ...over,
  }),
  addFunds: (user: User, amount: number, over: Overrides = {}) => ({
    user_id: user.userId,
    password: user.password,
    add_value: amount,
    ...over,
  }),
  createStore: (seller: User, storeId: string, over: Overrides = {}) => ({
    user_id: seller.userId,
    store_id: storeId,
    ...over,
  }),
  addBook: (
    seller: User,
    storeId: string,
    info: Record<string, unknown>,
    stock = 10,
    over: Overrides = {},
  ) => ({
    user_id: seller.userId,
    store_id: storeId,
    book_info: info,
    stock_level: stock,
    ...over,
  }),
  newOrder: (
    buyer: User,
    storeId: string,
    books: { id: unknown; count: unknown }[],
    over: Overrides = {},
  ) => ({
    user_id: buyer.userId,
    store_id: storeId,
    books,
    ...over,
  }),
  payment: (buyer: User, orderId: string, over: Overrides = {}) => ({
    user_id: buyer.userId,
    order_id: orderId,
    password: buyer.password,
    ...over,
  }),
  /** send_books, receive_books and both cancel_order: the acting user and the order. */
  orderAction: (user: User, orderId: string, over: Overrides = {}) => ({
    user_id: user.userId,
    order_id: orderId,
    ...over,
  }),
}
