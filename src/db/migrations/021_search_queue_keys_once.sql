-- A search reads the keys of the listings queued for the index (migration 019) for the bitmaps and
-- terms it needs. For the bitmaps, the planner joined the wanted (kind, key) pairs to the queued
-- listings first and computed each listing's keys once per pair: with three pairs and three terms,
-- search_pending_bits and search_pending_terms together took 26 ms with 25 listings of ~3 KB queued,
-- and a typo query with more pairs took longer. Each queued listing's keys are now computed once, then
-- joined to the pairs: 10 ms for the same 25.

-- The queued listings' keys (search_keys_of over their columns), the one definition both functions
-- read. An SQL function, inlined where it is called, so that a caller's conditions on kind and key
-- are planned into it (the terms read only the branch of search_keys_of that gives terms).
CREATE FUNCTION search_pending_keys() RETURNS TABLE (doc bigint, kind "char", key text)
LANGUAGE sql STABLE AS $$
  SELECT p.doc, e.kind, e.key
    FROM search_pending p JOIN listings l ON l.doc = p.doc,
         search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e;
$$;

CREATE OR REPLACE FUNCTION search_pending_bits(kinds "char"[], keys text[])
RETURNS TABLE (kind "char", key text, block integer, bits bit(16384)) LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM search_pending) THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH queued AS MATERIALIZED (SELECT * FROM search_pending_keys() q WHERE q.kind IS NOT NULL)
  SELECT q.kind, q.key, (q.doc / 16384)::int, B'1'::bit(16384) >> (q.doc % 16384)::int
    FROM queued q JOIN unnest(kinds, keys) AS w(kind, key) ON w.kind = q.kind AND w.key = q.key;
END
$$;

CREATE OR REPLACE FUNCTION search_pending_terms(terms text[])
RETURNS TABLE (term text, listings integer) LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM search_pending) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT q.key, count(*)::int
    FROM search_pending_keys() q
   WHERE q.kind IS NULL AND q.key = ANY (terms)
   GROUP BY 1;
END
$$;
