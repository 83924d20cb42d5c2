-- Search kept lean: the bitmaps and the term counts follow the listings' own columns, and the postings
-- (one row per term and listing, two thirds of the database) are gone; no search reads them any more.
-- Stores become bitmaps too (kind 's', key store_id), so that a search in one store is a bit
-- operation like a tag filter. A listing never changes store (store_id is part of its key).
ALTER TABLE search_bitmaps DROP CONSTRAINT search_bitmaps_kind_check;
ALTER TABLE search_bitmaps ADD CONSTRAINT search_bitmaps_kind_check
  CHECK (kind IN ('w', 'A', 'B', 'k', 'g', 't', 's'));

-- What one listing puts in the search structures, from its columns: the one place of these rules.
--   kind NULL: each distinct term of search_vec, author_tags_vec and title_grams, once: it counts one
--     listing in search_terms (a term of any of the three, single title characters included);
-- and a bit in the bitmap (kind, key):
--   'w' the term is in search_vec with a position, 'A' with weight A (title), 'B' with weight B
--     (author or tags), 'k' it is a word of a tag (weight B in author_tags_vec), 'g' a pair of
--     neighbouring characters of the title (title_grams; single characters have no bitmap),
--   't' an exact tag, 's' the store.
-- Each lexeme occurs once in a tsvector, so only the terms need DISTINCT (UNION).
CREATE FUNCTION search_keys_of(store_id text, tags text[], v tsvector, at tsvector, g tsvector)
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
  UNION ALL SELECT 's', store_id;
$$;

-- Adds (adding) or removes the entries (kinds[i], keys[i]) of listing docs[i]: the bits, then the term
-- counts. Every writer goes through here, and each part locks its rows in key order, so two
-- transactions changing the same rows wait for each other and never deadlock. A term's row stays at
-- zero listings when its last listing goes (the search skips those, as typo suggestions do).
CREATE FUNCTION search_index_change(adding boolean, kinds "char"[], keys text[], docs bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(adding, array_agg(e.kind), array_agg(e.key), array_agg(e.doc))
     FROM unnest(kinds, keys, docs) AS e(kind, key, doc) WHERE e.kind IS NOT NULL;
  IF adding THEN
    INSERT INTO search_terms AS t (term, listings)
    SELECT e.key, count(*) FROM unnest(kinds, keys) AS e(kind, key) WHERE e.kind IS NULL
     GROUP BY 1 ORDER BY 1
    ON CONFLICT (term) DO UPDATE SET listings = t.listings + excluded.listings;
  ELSE
    WITH gone AS (
      SELECT e.key AS term, count(*) AS n FROM unnest(kinds, keys) AS e(kind, key) WHERE e.kind IS NULL GROUP BY 1
    ), locked AS (
      SELECT t.term, gone.n FROM search_terms t JOIN gone USING (term) ORDER BY t.term FOR UPDATE OF t
    )
    UPDATE search_terms t SET listings = t.listings - locked.n FROM locked WHERE t.term = locked.term;
  END IF;
END
$$;

-- Listings inserted or deleted: one call per statement, however many rows (both name their rows `changed`).
CREATE FUNCTION search_index_of_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_index_change(TG_OP = 'INSERT', array_agg(e.kind), array_agg(e.key), array_agg(l.doc))
     FROM changed l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e;
  RETURN NULL;
END
$$;

-- The same for listings given by doc, as they are now: what a batch that rewrites search columns
-- (reindexSearchText, src/repositories/search-text.ts) removes before and adds after its update.
CREATE FUNCTION search_index_of_docs(adding boolean, docs bigint[]) RETURNS void LANGUAGE sql AS $$
  SELECT search_index_change(adding, array_agg(e.kind), array_agg(e.key), array_agg(l.doc))
    FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE l.doc = ANY (docs);
$$;

-- A listing retagged or reworded: only the entries that differ move. A row trigger whose WHEN lets
-- through only changed search columns or tags, so the stock updates of orders fire nothing. A
-- transaction that moves a whole batch's entries by statement (search_index_of_docs) says so with
-- SET LOCAL bookstore.search_by_statement = 'on', and this trigger stands aside for it.
CREATE FUNCTION search_index_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('bookstore.search_by_statement', true) = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM search_index_change(false, array_agg(e.kind), array_agg(e.key), array_agg(OLD.doc))
     FROM (SELECT * FROM search_keys_of(OLD.store_id, OLD.tags, OLD.search_vec, OLD.author_tags_vec, OLD.title_grams)
           EXCEPT
           SELECT * FROM search_keys_of(NEW.store_id, NEW.tags, NEW.search_vec, NEW.author_tags_vec, NEW.title_grams)) e;
  PERFORM search_index_change(true, array_agg(e.kind), array_agg(e.key), array_agg(NEW.doc))
     FROM (SELECT * FROM search_keys_of(NEW.store_id, NEW.tags, NEW.search_vec, NEW.author_tags_vec, NEW.title_grams)
           EXCEPT
           SELECT * FROM search_keys_of(OLD.store_id, OLD.tags, OLD.search_vec, OLD.author_tags_vec, OLD.title_grams)) e;
  RETURN NULL;
END
$$;

-- The postings and everything that only served them go; the tag triggers are folded into the new ones.
DROP TRIGGER search_postings_insert ON listings;
DROP TRIGGER search_postings_update ON listings;
DROP TRIGGER search_postings_delete ON listings;
DROP TRIGGER search_bitmaps_tags_add ON listings;
DROP TRIGGER search_bitmaps_tags_remove ON listings;
DROP TRIGGER search_bitmaps_tags_update ON listings;
DROP TABLE search_postings;
DROP FUNCTION search_postings_insert();
DROP FUNCTION search_postings_update();
DROP FUNCTION search_postings_delete();
DROP FUNCTION search_postings_of(bigint, tsvector, tsvector, tsvector);
DROP FUNCTION search_terms_add();
DROP FUNCTION search_terms_remove();
DROP FUNCTION search_bitmaps_of_postings();
DROP FUNCTION search_bitmap_kinds(text, smallint, smallint, smallint, smallint, smallint);
DROP FUNCTION search_bitmaps_of_tags();
DROP FUNCTION search_bitmaps_tags_update();
DROP FUNCTION search_bitmaps_rebuild();

CREATE TRIGGER search_index_add AFTER INSERT ON listings
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_index_of_rows();
CREATE TRIGGER search_index_remove AFTER DELETE ON listings
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_index_of_rows();
CREATE TRIGGER search_index_update AFTER UPDATE OF tags, search_vec, author_tags_vec, title_grams ON listings
  FOR EACH ROW WHEN (OLD.tags IS DISTINCT FROM NEW.tags
                     OR OLD.search_vec IS DISTINCT FROM NEW.search_vec
                     OR OLD.author_tags_vec IS DISTINCT FROM NEW.author_tags_vec
                     OR OLD.title_grams IS DISTINCT FROM NEW.title_grams)
  EXECUTE FUNCTION search_index_update();

-- Every bitmap and term count from the listings: after a bulk load that ran without the insert
-- trigger (tools/catalog/gen-catalog.ts), which is faster than setting bits batch by batch. Rows are
-- written in key order, so that the blocks of one bitmap share table pages (migration 010).
CREATE FUNCTION search_index_rebuild() RETURNS void LANGUAGE sql AS $$
  TRUNCATE search_bitmaps, search_terms;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT e.kind, e.key, (l.doc / 8192)::int, search_bits(array_agg((l.doc % 8192)::int))
    FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE e.kind IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
  INSERT INTO search_terms (term, listings)
  SELECT e.key, count(*)
    FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE e.kind IS NULL GROUP BY 1;
$$;

-- The existing bitmaps and counts already hold what the postings held; only the stores' bitmaps are new.
INSERT INTO search_bitmaps (kind, key, block, bits)
SELECT 's', store_id, (doc / 8192)::int, search_bits(array_agg((doc % 8192)::int))
  FROM listings GROUP BY 2, 3 ORDER BY 2, 3;
