-- Facets are counted from the match's bitmaps instead of from the matching rows
-- (src/repositories/facets.ts). Reading every match's row cost 5 µs a listing: 200–400 ms for a common
-- word or the whole catalogue at 100 000 listings. A search's match is now a bitmap per block, and the
-- server counts its listings' store, price and tags, which never change once a listing exists, from
-- its own copy of those columns (src/repositories/facet-columns.ts). Two kinds of bitmap are added:
--   'l' (key ''): every listing. A search without text, tag or store matches all of them, and identity
--     numbers leave gaps (an insert rolled back), so the docs alone do not say which exist. It follows
--     the listings through search_keys_of, as the other kinds do.
--   'o' (key ''): the listings out of stock, the one facet column that changes. Orders change stock,
--     and an order must not wait for a bitmap row (every order of the block would queue behind it):
--     a listing whose stock crosses zero is queued in search_stock_pending instead, and
--     search_stock_merge sets its bit later. A reader takes a queued listing's stock from the listing.
ALTER TABLE search_bitmaps DROP CONSTRAINT search_bitmaps_kind;
ALTER TABLE search_bitmaps ADD CONSTRAINT search_bitmaps_kind
  CHECK (kind IN ('w', 'A', 'B', 'k', 'g', 't', 's', 'l', 'o'));

-- As in migration 016, with 'l'.
CREATE OR REPLACE FUNCTION search_keys_of(store_id text, tags text[], v tsvector, at tsvector, g tsvector)
RETURNS TABLE (kind "char", key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT NULL::"char", x.term
    FROM (SELECT lexeme FROM unnest(v) UNION SELECT lexeme FROM unnest(at) UNION SELECT lexeme FROM unnest(g))
         AS x(term)
  UNION ALL
  SELECT k.kind, u.lexeme
    FROM unnest(v) AS u,
         LATERAL (VALUES ('w'::"char", cardinality(u.weights) > 0), ('A', 'A' = ANY (u.weights)),
                         ('B', 'B' = ANY (u.weights))) AS k(kind, holds)
   WHERE k.holds
  UNION ALL SELECT 'k', u.lexeme FROM unnest(at) AS u WHERE 'B' = ANY (u.weights)
  UNION ALL SELECT 'g', u.lexeme FROM unnest(g) AS u WHERE char_length(u.lexeme) = 2
  UNION ALL SELECT 't', t FROM unnest(tags) AS t
  UNION ALL SELECT 's', store_id
  UNION ALL SELECT 'l', '';
$$;

-- The merged listings' bits; a queued listing gets its bit when it is merged, from the function above.
INSERT INTO search_bitmaps (kind, key, block, bits)
SELECT 'l', '', (l.doc / 16384)::int, search_bits(array_agg((l.doc % 16384)::int))
  FROM listings l
 WHERE NOT EXISTS (SELECT FROM search_pending p WHERE p.doc = l.doc)
 GROUP BY 3 ORDER BY 3;

-- Listings whose bit of kind 'o' may be wrong: their stock crossed zero (or they were inserted out of
-- stock) since search_stock_merge last looked.
CREATE TABLE search_stock_pending (doc bigint PRIMARY KEY);

INSERT INTO search_bitmaps (kind, key, block, bits)
SELECT 'o', '', (doc / 16384)::int, search_bits(array_agg((doc % 16384)::int))
  FROM listings WHERE stock_level <= 0
 GROUP BY 3 ORDER BY 3;

-- As in migration 019; inserted listings out of stock are queued for their bit of kind 'o' too.
CREATE OR REPLACE FUNCTION search_index_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_pending (doc) SELECT doc FROM changed ORDER BY doc;
  INSERT INTO search_stock_pending (doc) SELECT doc FROM changed WHERE stock_level <= 0 ORDER BY doc;
  RETURN NULL;
END
$$;

-- As in migration 019; a deleted listing out of stock is queued, and the merge clears its bit.
CREATE OR REPLACE FUNCTION search_index_of_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unmerged bigint[];
BEGIN
  WITH gone AS (DELETE FROM search_pending p USING changed c WHERE p.doc = c.doc RETURNING p.doc)
  SELECT coalesce(array_agg(doc), '{}') INTO unmerged FROM gone;
  PERFORM search_index_change(false, array_agg(e.kind), array_agg(e.key), array_agg(l.doc))
     FROM changed l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
    WHERE l.doc <> ALL (unmerged);
  INSERT INTO search_stock_pending AS p (doc) SELECT doc FROM changed WHERE stock_level <= 0 ORDER BY doc
    ON CONFLICT (doc) DO UPDATE SET doc = p.doc;
  RETURN NULL;
END
$$;

-- A listing whose stock crosses zero is queued; an order that leaves copies in stock does nothing
-- here. A queue row already there is locked until this transaction ends (DO UPDATE; DO NOTHING would
-- not lock it): a merge taking it now would read the stock before this change and drop the row. A
-- merge skips it instead, or, having taken it first, is waited for, and the row is inserted again.
CREATE FUNCTION search_stock_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_stock_pending AS p (doc) VALUES (NEW.doc) ON CONFLICT (doc) DO UPDATE SET doc = p.doc;
  RETURN NULL;
END
$$;

CREATE TRIGGER search_stock_change AFTER UPDATE OF stock_level ON listings FOR EACH ROW
  WHEN ((OLD.stock_level > 0) IS DISTINCT FROM (NEW.stock_level > 0))
  EXECUTE FUNCTION search_stock_queue();

-- Sets the bits of kind 'o' of up to `batch` queued listings from their stock as committed now (a
-- listing deleted since has its bit cleared), and returns how many it took. As search_index_merge,
-- it skips queue rows others hold and reads the listings in a statement after taking them; each
-- block's row is written once, in block order.
CREATE FUNCTION search_stock_merge(batch integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  taken bigint[];
BEGIN
  WITH claimed AS (SELECT doc FROM search_stock_pending ORDER BY doc LIMIT batch FOR UPDATE SKIP LOCKED),
       gone AS (DELETE FROM search_stock_pending p USING claimed c WHERE p.doc = c.doc RETURNING p.doc)
  SELECT array_agg(doc) INTO taken FROM gone;
  IF taken IS NULL THEN
    RETURN 0;
  END IF;
  WITH s AS (
    SELECT (t.doc / 16384)::int AS block, (t.doc % 16384)::int AS bit, coalesce(l.stock_level <= 0, false) AS out
      FROM unnest(taken) AS t(doc) LEFT JOIN listings l ON l.doc = t.doc
  ), m AS (
    SELECT block,
           CASE WHEN bool_or(out) THEN search_bits(array_agg(bit) FILTER (WHERE out)) ELSE B'0'::bit(16384) END AS set,
           CASE WHEN bool_or(NOT out) THEN search_bits(array_agg(bit) FILTER (WHERE NOT out)) ELSE B'0'::bit(16384) END
             AS clear
      FROM s GROUP BY block
  )
  INSERT INTO search_bitmaps AS b (kind, key, block, bits)
  SELECT 'o', '', m.block, m.set FROM m ORDER BY m.block
  ON CONFLICT (kind, key, block) DO UPDATE
    SET bits = (b.bits & ~(SELECT m.clear FROM m WHERE m.block = excluded.block)) | excluded.bits;
  RETURN cardinality(taken);
END
$$;

-- As in migration 019, with the bits of kind 'o' and their queue.
CREATE OR REPLACE FUNCTION search_index_rebuild() RETURNS void LANGUAGE sql AS $$
  TRUNCATE search_bitmaps, search_terms, search_pending, search_stock_pending;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT e.kind, e.key, (l.doc / 16384)::int, search_bits(array_agg((l.doc % 16384)::int))
    FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE e.kind IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT 'o', '', (doc / 16384)::int, search_bits(array_agg((doc % 16384)::int))
    FROM listings WHERE stock_level <= 0
   GROUP BY 3 ORDER BY 3;
  INSERT INTO search_terms (term, listings)
  SELECT e.key, count(*)
    FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE e.kind IS NULL GROUP BY 1;
$$;
