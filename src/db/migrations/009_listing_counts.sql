-- How many listings there are at each price, over the whole catalogue and per exact tag, and how many
-- of them are in stock: exact totals for browsing by price range, tag and stock without visiting the
-- listings.
--
-- Browsing a tag within a price range, in stock only, pages from an index in price order, stopped
-- after the page; its total is the sum of this table's rows for the tag over the prices in the
-- range (one row per distinct price, read in index order) instead of a count of every listing in it.
--
-- kind 'a' counts every listing (tag is then ''), kind 't' the listings carrying tag.
CREATE TABLE listing_counts (
  kind     "char"  NOT NULL CHECK (kind IN ('a', 't')),
  tag      text    NOT NULL,
  price    bigint  NOT NULL,
  listings integer NOT NULL,
  in_stock integer NOT NULL,
  PRIMARY KEY (kind, tag, price)
);

-- Adds the deltas (listings[i], in_stock[i]) to the row (kinds[i], tags[i], prices[i]), summed per row
-- and in key order, so that two transactions changing the same rows wait for each other and never
-- deadlock. Deltas that sum to nothing touch no row.
CREATE FUNCTION listing_counts_change(kinds "char"[], tags text[], prices bigint[], listings integer[],
                                      in_stock integer[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO listing_counts AS c (kind, tag, price, listings, in_stock)
  SELECT e.kind, e.tag, e.price, sum(e.listings), sum(e.in_stock)
    FROM unnest(kinds, tags, prices, listings, in_stock) AS e(kind, tag, price, listings, in_stock)
   GROUP BY 1, 2, 3 HAVING sum(e.listings) <> 0 OR sum(e.in_stock) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (kind, tag, price) DO UPDATE
    SET listings = c.listings + excluded.listings, in_stock = c.in_stock + excluded.in_stock;
$$;

-- The rows a listing counts in: its price over the catalogue and under each of its tags (once each).
CREATE FUNCTION listing_counts_keys(tags text[]) RETURNS TABLE (kind "char", tag text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 'a'::"char", '' UNION SELECT 't'::"char", t FROM unnest(tags) AS t;
$$;

-- Listings added or removed (statement triggers; both name their rows `changed`).
CREATE FUNCTION listing_counts_of_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  PERFORM listing_counts_change(array_agg(k.kind), array_agg(k.tag), array_agg(l.price), array_agg(sign),
                                array_agg(sign * (l.stock_level > 0)::int))
     FROM changed l, listing_counts_keys(l.tags) k;
  RETURN NULL;
END
$$;
CREATE TRIGGER listing_counts_add AFTER INSERT ON listings
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION listing_counts_of_rows();
CREATE TRIGGER listing_counts_remove AFTER DELETE ON listings
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION listing_counts_of_rows();

-- A listing retagged, repriced, or whose stock reaches zero or leaves it. A row trigger whose WHEN
-- lets through only those: an order that leaves copies on the shelf fires nothing.
CREATE FUNCTION listing_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM listing_counts_change(array_agg(k.kind), array_agg(k.tag), array_agg(k.price), array_agg(k.listings),
                                array_agg(k.in_stock))
     FROM (SELECT o.kind, o.tag, OLD.price, -1, -(OLD.stock_level > 0)::int FROM listing_counts_keys(OLD.tags) o
           UNION ALL
           SELECT n.kind, n.tag, NEW.price, 1, (NEW.stock_level > 0)::int FROM listing_counts_keys(NEW.tags) n)
          AS k(kind, tag, price, listings, in_stock);
  RETURN NULL;
END
$$;
CREATE TRIGGER listing_counts_update AFTER UPDATE OF tags, price, stock_level ON listings FOR EACH ROW
  WHEN (OLD.tags IS DISTINCT FROM NEW.tags OR OLD.price <> NEW.price
        OR (OLD.stock_level > 0) <> (NEW.stock_level > 0))
  EXECUTE FUNCTION listing_counts_update();

-- Every count from the listings: here, and after a bulk load that ran without the insert trigger
-- (tools/catalog/gen-catalog.ts).
CREATE FUNCTION listing_counts_rebuild() RETURNS void LANGUAGE sql AS $$
  TRUNCATE listing_counts;
  INSERT INTO listing_counts (kind, tag, price, listings, in_stock)
  SELECT k.kind, k.tag, l.price, count(*), count(*) FILTER (WHERE l.stock_level > 0)
    FROM listings l, listing_counts_keys(l.tags) k GROUP BY 1, 2, 3;
$$;
SELECT listing_counts_rebuild();
