-- Users, sessions, stores, listings with pictures, orders and the money ledger.
-- Constraints are the last line of defence: the code never relies on them on the normal path,
-- but no bug can store a negative stock or balance, or an order in an unknown state.

CREATE TABLE users (
  user_id       text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 255),
  -- NULL once the account is closed (unregistered): nobody can sign in as it again.
  password_hash text,
  balance       bigint NOT NULL DEFAULT 0 CHECK (balance >= 0 AND balance <= 1000000000000000),
  created_at    timestamptz NOT NULL DEFAULT now(),
  closed_at     timestamptz,
  CHECK ((password_hash IS NULL) = (closed_at IS NOT NULL))
);

-- One live session per (user, terminal); only a SHA-256 of the token is stored.
CREATE TABLE sessions (
  token_hash bytea PRIMARY KEY,
  user_id    text NOT NULL REFERENCES users ON DELETE CASCADE,
  terminal   text NOT NULL CHECK (length(terminal) <= 255),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  UNIQUE (user_id, terminal)
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE stores (
  store_id   text PRIMARY KEY CHECK (length(store_id) BETWEEN 1 AND 255),
  owner_id   text NOT NULL REFERENCES users,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stores_owner ON stores (owner_id);

-- A book listed in a store, with its stock. Known book_info fields are columns; fields the
-- course data carries that are not modelled (e.g. currency_unit) are kept in extra.
CREATE TABLE listings (
  store_id       text NOT NULL REFERENCES stores,
  book_id        text NOT NULL CHECK (length(book_id) BETWEEN 1 AND 255),
  title          text NOT NULL,
  author         text,
  publisher      text,
  original_title text,
  translator     text,
  pub_year       text,
  pages          integer,
  price          bigint NOT NULL CHECK (price >= 0),
  binding        text,
  isbn           text,
  author_intro   text,
  book_intro     text,
  content        text,
  tags           text[] NOT NULL DEFAULT '{}',
  extra          jsonb NOT NULL DEFAULT '{}',
  stock_level    integer NOT NULL CHECK (stock_level >= 0),
  sales          bigint NOT NULL DEFAULT 0 CHECK (sales >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, book_id)
);

-- Picture bytes, stored once per content hash however many listings show them.
CREATE TABLE pictures (
  sha256     bytea PRIMARY KEY,
  mime       text NOT NULL,
  data       bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE listing_pictures (
  store_id text NOT NULL,
  book_id  text NOT NULL,
  idx      integer NOT NULL CHECK (idx >= 0),
  sha256   bytea NOT NULL REFERENCES pictures,
  PRIMARY KEY (store_id, book_id, idx),
  FOREIGN KEY (store_id, book_id) REFERENCES listings ON DELETE CASCADE
);

CREATE TABLE orders (
  order_id      text PRIMARY KEY,
  buyer_id      text NOT NULL REFERENCES users,
  store_id      text NOT NULL REFERENCES stores,
  status        text NOT NULL DEFAULT 'unpaid'
                CHECK (status IN ('unpaid', 'paid', 'shipped', 'received', 'cancelled')),
  cancel_reason text CHECK (cancel_reason IN ('buyer', 'seller', 'timeout')),
  total_price   bigint NOT NULL CHECK (total_price >= 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  paid_at       timestamptz,
  shipped_at    timestamptz,
  received_at   timestamptz,
  cancelled_at  timestamptz,
  CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL AND cancelled_at IS NOT NULL)),
  CHECK (status IN ('unpaid', 'cancelled') OR paid_at IS NOT NULL)
);
CREATE INDEX orders_buyer ON orders (buyer_id, created_at DESC, order_id);
CREATE INDEX orders_store ON orders (store_id, created_at DESC, order_id);
CREATE INDEX orders_unpaid_expiry ON orders (expires_at) WHERE status = 'unpaid';

-- Title and price are copied at order time: later listing edits do not rewrite history.
CREATE TABLE order_items (
  order_id text NOT NULL REFERENCES orders ON DELETE CASCADE,
  book_id  text NOT NULL,
  title    text NOT NULL,
  count    integer NOT NULL CHECK (count > 0),
  price    bigint NOT NULL CHECK (price >= 0),
  PRIMARY KEY (order_id, book_id)
);

-- Append-only record of every change to a balance. amount is the signed change to user_id's
-- balance: deposit > 0, withdrawal < 0, payment < 0 (into escrow), release > 0 (escrow to the
-- seller), refund > 0 (escrow back to the buyer).
CREATE TABLE ledger (
  entry_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    text NOT NULL REFERENCES users,
  order_id   text REFERENCES orders,
  kind       text NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'payment', 'release', 'refund')),
  amount     bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind IN ('deposit', 'release', 'refund')) = (amount > 0) OR amount = 0),
  CHECK ((kind IN ('deposit', 'withdrawal')) = (order_id IS NULL))
);
CREATE INDEX ledger_user ON ledger (user_id, entry_id);
CREATE INDEX ledger_order ON ledger (order_id) WHERE order_id IS NOT NULL;
