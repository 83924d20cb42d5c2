-- Search folding and pinyin: listings' search columns (search_vec, author_tags_vec, title_grams) are
-- computed by the application (src/search/lexemes.ts), whose SEARCH_TEXT_VERSION says how. Version 2
-- folds traditional characters to simplified and drops accents, and adds the pinyin of titles and
-- authors; listings written before it keep version 1 columns until the application rebuilds them.
-- This row says which version the stored columns have and how far a rebuild to a newer one has come:
-- at every start, after the migrations, reindexSearchText (src/repositories/search-text.ts) rebuilds
-- the listings in doc order, a batch per transaction, recording the last doc rebuilt, so an
-- interrupted rebuild resumes where it stopped.
CREATE TABLE search_text_state (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  -- The version every listing's search columns have been built with (listings written since a
  -- rebuild began already have the newer one).
  version int NOT NULL,
  -- The version a rebuild under way builds, and the last doc it has rebuilt (listings are rebuilt in
  -- doc order).
  rebuilding int,
  rebuilt_to bigint NOT NULL DEFAULT 0
);
INSERT INTO search_text_state (version)
SELECT CASE WHEN EXISTS (SELECT 1 FROM listings) THEN 1 ELSE 2 END;

-- A rebuild rewrites the search columns of a whole batch of listings and moves their postings itself,
-- one statement each way, so that the statement triggers on search_postings (terms, bitmaps) run once
-- per batch rather than twice per listing; for the transaction that says so, the row trigger stands
-- aside. The setting is transaction-local (SET LOCAL), so no other writer is affected.
CREATE OR REPLACE FUNCTION search_postings_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('bookstore.postings_by_statement', true) = 'on' THEN
    RETURN NULL;
  END IF;
  -- The old postings are found by (term, doc) from the old columns: postings have no index on doc.
  DELETE FROM search_postings p
   USING search_postings_of(OLD.doc, OLD.search_vec, OLD.author_tags_vec, OLD.title_grams) o
   WHERE p.term = o.term AND p.doc = OLD.doc;
  INSERT INTO search_postings
  SELECT p.* FROM search_postings_of(NEW.doc, NEW.search_vec, NEW.author_tags_vec, NEW.title_grams) p;
  RETURN NULL;
END
$$;
