-- Stores as bitmaps: kind 's', key store_id, one bit per listing of the store, so that a search in one
-- store is a bit operation like a tag filter instead of a look-up of the store's listings.
--
-- A listing never changes store (store_id is part of its key), so its store bit is set when it is
-- inserted and cleared when it is deleted, by the statement triggers that keep the tag bits ('t').
ALTER TABLE search_bitmaps DROP CONSTRAINT search_bitmaps_kind_check;
ALTER TABLE search_bitmaps ADD CONSTRAINT search_bitmaps_kind_check
  CHECK (kind IN ('w', 'A', 'B', 'k', 'g', 't', 's'));

-- The bits a listing sets by what it is rather than by what its text says: its store and each exact tag.
CREATE FUNCTION search_bitmaps_of_listing(store_id text, tags text[]) RETURNS TABLE (kind "char", key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 's'::"char", store_id
  UNION ALL SELECT 't'::"char", t FROM unnest(tags) AS t;
$$;

CREATE OR REPLACE FUNCTION search_bitmaps_of_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(TG_OP = 'INSERT', array_agg(b.kind), array_agg(b.key), array_agg(l.doc))
     FROM changed l, search_bitmaps_of_listing(l.store_id, l.tags) b;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION search_bitmaps_rebuild() RETURNS void LANGUAGE sql AS $$
  TRUNCATE search_bitmaps;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT k.kind, p.term, (p.doc / 8192)::int, search_bits(array_agg((p.doc % 8192)::int))
    FROM search_postings p, search_bitmap_kinds(p.term, p.fields, p.a, p.b, p.c, p.d) AS k(kind)
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT b.kind, b.key, (l.doc / 8192)::int, search_bits(array_agg((l.doc % 8192)::int))
    FROM listings l, search_bitmaps_of_listing(l.store_id, l.tags) b GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
$$;

INSERT INTO search_bitmaps (kind, key, block, bits)
SELECT 's', store_id, (doc / 8192)::int, search_bits(array_agg((doc % 8192)::int))
  FROM listings GROUP BY 2, 3 ORDER BY 2, 3;
