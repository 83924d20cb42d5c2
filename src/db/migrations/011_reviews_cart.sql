-- Reviews of received order lines, each listing's rating kept with them, and the buyers' carts.

-- One review per order line (the buyer's, once the order is received); posting again edits it. The
-- store is the order's, so that its owner may reply. A closed account's reviews stay as they are.
CREATE TABLE reviews (
  review_id  text PRIMARY KEY,
  order_id   text NOT NULL,
  book_id    text NOT NULL,
  store_id   text NOT NULL REFERENCES stores,
  buyer_id   text NOT NULL REFERENCES users,
  rating     smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
  text       text CHECK (length(text) <= 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  reply      text CHECK (length(reply) BETWEEN 1 AND 2000),
  replied_at timestamptz,
  UNIQUE (order_id, book_id),
  FOREIGN KEY (order_id, book_id) REFERENCES order_items,
  CHECK ((reply IS NULL) = (replied_at IS NULL))
);
CREATE INDEX reviews_listing ON reviews (store_id, book_id, created_at DESC, review_id);
-- A seller's reviews still waiting for an answer.
CREATE INDEX reviews_unanswered ON reviews (store_id, created_at DESC, review_id) WHERE reply IS NULL;

-- Each listing's ratings as a count per star, one row per listing (written with the listing), in a
-- table of its own: an order's stock update never touches it, and a review never rewrites the
-- listing row with its search indexes. Average and count are derived columns, so that the index
-- below walks sort=rating_desc in order: highest average, then more ratings, then newest (doc);
-- unrated listings (average NULL) last.
CREATE TABLE listing_ratings (
  store_id     text NOT NULL,
  book_id      text NOT NULL,
  doc          bigint NOT NULL,
  n1           integer NOT NULL DEFAULT 0 CHECK (n1 >= 0),
  n2           integer NOT NULL DEFAULT 0 CHECK (n2 >= 0),
  n3           integer NOT NULL DEFAULT 0 CHECK (n3 >= 0),
  n4           integer NOT NULL DEFAULT 0 CHECK (n4 >= 0),
  n5           integer NOT NULL DEFAULT 0 CHECK (n5 >= 0),
  rating_count integer GENERATED ALWAYS AS (n1 + n2 + n3 + n4 + n5) STORED,
  rating_sum   bigint GENERATED ALWAYS AS (n1 + 2 * n2 + 3 * n3 + 4 * n4 + 5::bigint * n5) STORED,
  average      float8 GENERATED ALWAYS AS (
                 CASE WHEN n1 + n2 + n3 + n4 + n5 > 0
                      THEN (n1 + 2 * n2 + 3 * n3 + 4 * n4 + 5::float8 * n5) / (n1 + n2 + n3 + n4 + n5) END) STORED,
  PRIMARY KEY (store_id, book_id),
  FOREIGN KEY (store_id, book_id) REFERENCES listings ON DELETE CASCADE
);
INSERT INTO listing_ratings (store_id, book_id, doc) SELECT store_id, book_id, doc FROM listings;
CREATE INDEX listing_ratings_rank ON listing_ratings (average DESC NULLS LAST, rating_count DESC, doc DESC);
-- A one-word search by rating joins the word's postings to the ratings by doc, from this index alone.
CREATE INDEX listing_ratings_doc ON listing_ratings (doc) INCLUDE (average, rating_count);

-- A review added, re-rated or removed moves one star count of its listing, in the same statement:
-- the counts equal count(*) per rating over the reviews at every moment. Edits that keep the rating
-- (text only) and replies fire nothing.
CREATE FUNCTION listing_ratings_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  -- The star taken away (update, delete) and the star added (insert, update); 0 for none.
  gone integer := 0;
  came integer := 0;
  s text;
  b text;
BEGIN
  IF TG_OP <> 'INSERT' THEN gone := OLD.rating; s := OLD.store_id; b := OLD.book_id; END IF;
  IF TG_OP <> 'DELETE' THEN came := NEW.rating; s := NEW.store_id; b := NEW.book_id; END IF;
  UPDATE listing_ratings SET
    n1 = n1 + (came = 1)::int - (gone = 1)::int,
    n2 = n2 + (came = 2)::int - (gone = 2)::int,
    n3 = n3 + (came = 3)::int - (gone = 3)::int,
    n4 = n4 + (came = 4)::int - (gone = 4)::int,
    n5 = n5 + (came = 5)::int - (gone = 5)::int
   WHERE store_id = s AND book_id = b;
  RETURN NULL;
END
$$;
CREATE TRIGGER listing_ratings_add AFTER INSERT ON reviews
  FOR EACH ROW EXECUTE FUNCTION listing_ratings_change();
CREATE TRIGGER listing_ratings_remove AFTER DELETE ON reviews
  FOR EACH ROW EXECUTE FUNCTION listing_ratings_change();
CREATE TRIGGER listing_ratings_rerate AFTER UPDATE OF rating ON reviews
  FOR EACH ROW WHEN (OLD.rating <> NEW.rating) EXECUTE FUNCTION listing_ratings_change();

-- A buyer's cart: a count per (store, book), shared by all the buyer's sessions. It reserves no stock;
-- checkout turns it into orders.
CREATE TABLE cart_lines (
  user_id  text NOT NULL REFERENCES users,
  store_id text NOT NULL,
  book_id  text NOT NULL,
  count    integer NOT NULL CHECK (count BETWEEN 1 AND 10000),
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, store_id, book_id),
  FOREIGN KEY (store_id, book_id) REFERENCES listings ON DELETE CASCADE
);
