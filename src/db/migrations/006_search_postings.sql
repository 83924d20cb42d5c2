-- Postings for keyword search: one row per (term, listing), ordered by relevance in an index.
--
-- The GIN index on search_vec finds the listings holding a word, but ranking them and counting them
-- means reading every match from the heap: a word in half of 100 000 listings costs some 300 ms.
-- Here each (term, listing) pair carries what ranking and scopes need, so a one-word search reads
-- its page from the top of an index and counts its matches from an index alone.
--
-- A listing gets a compact surrogate key for these rows (the primary key stays (store_id, book_id)).
ALTER TABLE listings ADD COLUMN doc bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX listings_doc ON listings (doc);

-- fields: where the term occurs, as bits: 1 title, 2 author, 4 tags, 8 book_intro, 16 content, and
--   32 when it is a character or a pair of neighbouring characters of the title (title_grams).
-- a, b, c, d: how many of the term's positions in search_vec carry weight A, B, C, D (at most 8 in all).
-- score: the relevance a search over every field gives this listing for this one term, computed the
--   way the search statement computes it: tier (2 title, 1 author or tags, else 0) plus ts_rank_cd.
CREATE TABLE search_postings (
  term   text NOT NULL,
  doc    bigint NOT NULL,
  fields smallint NOT NULL,
  a      smallint NOT NULL,
  b      smallint NOT NULL,
  c      smallint NOT NULL,
  d      smallint NOT NULL,
  score  double precision NOT NULL,
  PRIMARY KEY (term, doc) INCLUDE (fields, a, b, c, d)
);
CREATE INDEX search_postings_rank ON search_postings (term, score DESC, doc DESC);

-- How many listings hold each term: the total of a one-term search over every field, without counting.
-- Kept by the statement triggers below in the transaction that changes the postings, so a search sees
-- the count and the postings of one snapshot. Rows are locked in term order, so two transactions
-- adding listings wait for each other but never deadlock.
CREATE TABLE search_terms (
  term     text PRIMARY KEY,
  listings integer NOT NULL CHECK (listings >= 0)
);

CREATE FUNCTION search_terms_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_terms AS t (term, listings)
  SELECT term, count(*) FROM new_postings GROUP BY term ORDER BY term
  ON CONFLICT (term) DO UPDATE SET listings = t.listings + excluded.listings;
  RETURN NULL;
END
$$;
CREATE TRIGGER search_terms_add AFTER INSERT ON search_postings
  REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION search_terms_add();

CREATE FUNCTION search_terms_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH gone AS (SELECT term, count(*) AS n FROM old_postings GROUP BY term),
  locked AS (
    SELECT t.term, gone.n FROM search_terms t JOIN gone USING (term) ORDER BY t.term FOR UPDATE OF t
  )
  UPDATE search_terms t SET listings = t.listings - locked.n FROM locked WHERE t.term = locked.term;
  RETURN NULL;
END
$$;
CREATE TRIGGER search_terms_remove AFTER DELETE ON search_postings
  REFERENCING OLD TABLE AS old_postings FOR EACH STATEMENT EXECUTE FUNCTION search_terms_remove();

-- The postings of one listing, from its three search columns. The term becomes a one-lexeme tsquery
-- literal (quoted, with quotes and backslashes escaped) so that no parser touches it.
CREATE FUNCTION search_postings_of(listing bigint, v tsvector, at tsvector, g tsvector)
RETURNS TABLE (term text, doc bigint, fields smallint, a smallint, b smallint, c smallint, d smallint,
               score double precision)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT x.term, listing, bit_or(x.f)::smallint, sum(x.a)::smallint, sum(x.b)::smallint,
         sum(x.c)::smallint, sum(x.d)::smallint,
         (CASE WHEN sum(x.a) > 0 OR bit_or(x.f) & 32 <> 0 THEN 2 WHEN sum(x.b) > 0 THEN 1 ELSE 0 END
           + ts_rank_cd(v, ('''' || replace(replace(x.term, '\', '\\'), '''', '''''') || '''')::tsquery, 32))
  FROM (
    SELECT u.lexeme AS term,
           CASE WHEN 'A' = ANY (u.weights) THEN 1 ELSE 0 END
             | CASE WHEN 'C' = ANY (u.weights) THEN 8 ELSE 0 END
             | CASE WHEN 'D' = ANY (u.weights) THEN 16 ELSE 0 END AS f,
           cardinality(array_positions(u.weights, 'A')) AS a,
           cardinality(array_positions(u.weights, 'B')) AS b,
           cardinality(array_positions(u.weights, 'C')) AS c,
           cardinality(array_positions(u.weights, 'D')) AS d
      FROM unnest(v) u
    UNION ALL
    SELECT u.lexeme,
           CASE WHEN 'A' = ANY (u.weights) THEN 2 ELSE 0 END | CASE WHEN 'B' = ANY (u.weights) THEN 4 ELSE 0 END,
           0, 0, 0, 0
      FROM unnest(at) u
    UNION ALL
    SELECT u.lexeme, 32, 0, 0, 0, 0 FROM unnest(g) u
  ) x
  GROUP BY x.term
$$;

-- Postings follow the listing in the same statement, whoever writes it.
CREATE FUNCTION search_postings_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_postings
  SELECT p.* FROM new_listings l, search_postings_of(l.doc, l.search_vec, l.author_tags_vec, l.title_grams) p;
  RETURN NULL;
END
$$;
CREATE TRIGGER search_postings_insert AFTER INSERT ON listings
  REFERENCING NEW TABLE AS new_listings FOR EACH STATEMENT EXECUTE FUNCTION search_postings_insert();

CREATE FUNCTION search_postings_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The old postings are found by (term, doc) from the old columns: postings have no index on doc.
  DELETE FROM search_postings p
   USING search_postings_of(OLD.doc, OLD.search_vec, OLD.author_tags_vec, OLD.title_grams) o
   WHERE p.term = o.term AND p.doc = OLD.doc;
  INSERT INTO search_postings
  SELECT p.* FROM search_postings_of(NEW.doc, NEW.search_vec, NEW.author_tags_vec, NEW.title_grams) p;
  RETURN NULL;
END
$$;
CREATE TRIGGER search_postings_update AFTER UPDATE OF search_vec, author_tags_vec, title_grams ON listings
  FOR EACH ROW WHEN (OLD.search_vec IS DISTINCT FROM NEW.search_vec
                     OR OLD.author_tags_vec IS DISTINCT FROM NEW.author_tags_vec
                     OR OLD.title_grams IS DISTINCT FROM NEW.title_grams)
  EXECUTE FUNCTION search_postings_update();

-- A listing's postings go with it. A trigger rather than a foreign key: a foreign key checks every
-- posting row of a bulk load on its own, and its cascade would look postings up by doc, which no
-- index leads with; postings are only ever written by these triggers.
CREATE FUNCTION search_postings_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_postings p
   USING old_listings l, search_postings_of(l.doc, l.search_vec, l.author_tags_vec, l.title_grams) o
   WHERE p.term = o.term AND p.doc = l.doc;
  RETURN NULL;
END
$$;
CREATE TRIGGER search_postings_delete AFTER DELETE ON listings
  REFERENCING OLD TABLE AS old_listings FOR EACH STATEMENT EXECUTE FUNCTION search_postings_delete();

INSERT INTO search_postings
SELECT p.* FROM listings l, search_postings_of(l.doc, l.search_vec, l.author_tags_vec, l.title_grams) p;
