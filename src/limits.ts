/** Bounds on stored values, shared by the HTTP schemas and the services. */
export const LIMITS = {
  idLength: 255,
  /**
   * Path parameters as they arrive, percent-encoded: an id of 255 characters of any script is up to
   * 255 × 4 UTF-8 bytes × 3 characters (%XX). Longer ones are 400 before routing, shorter ones that
   * are still too long once decoded are 400 from the schema.
   */
  maxPathParamLength: 255 * 4 * 3,
  passwordLength: 1024,
  /** Largest balance and order total, in cents (10^13 yuan): far below 2^53, so sums stay exact. */
  maxMoney: 1_000_000_000_000_000,
  /** Largest single add_funds amount either way. */
  maxAddValue: 100_000_000_000_000,
  maxPrice: 1_000_000_000_000,
  /** stock_level is a 32-bit column. */
  maxStock: 2_147_483_647,
  maxOrderLines: 1000,
  maxCount: 1_000_000,
  /** Copies of one cart line, and lines in one cart (a checkout places at most this many order lines). */
  maxCartCount: 10_000,
  maxCartLines: 1000,
  /** Characters of a review's text and of a seller's reply. */
  reviewTextLength: 2000,
  maxPictures: 64,
  /** add_book carries base64 pictures: several MB (course data: up to 9 of ~200 KB each). */
  addBookBodyBytes: 16 * 1024 * 1024,
  /**
   * The web shop's add-book form (multipart: fields and picture files). Its parts are bounded one by
   * one as they are read; this bounds the whole form, so that it draws on the body budget below.
   */
  addBookFormBytes: 24 * 1024 * 1024,
  defaultBodyBytes: 1024 * 1024,
  /** Bodies up to this size are always admitted; larger ones share the budget below. */
  smallBodyBytes: 64 * 1024,
  /** What the large bodies being received at once may declare in all, per process. */
  largeBodyBudgetBytes: 128 * 1024 * 1024,
  /** Objects and arrays nested deeper than this in a request are refused (400). */
  maxJsonDepth: 32,
} as const
