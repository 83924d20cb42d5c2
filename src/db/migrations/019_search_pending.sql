-- A listing's bits and term counts are merged after its insert commits, in batches, instead of in
-- the inserting transaction.
--
-- Setting a new listing's bits rewrote about 200 rows of search_bitmaps and 170 of search_terms in
-- the add_book transaction: half its time, and the rows of common words, tags and the store were held
-- locked until commit, so books added at once queued behind each other (p99 336 ms at 8 at once). Now
-- the insert only queues its docs in search_pending; search_index_merge moves a batch of queued
-- listings into the bitmaps and counts in one transaction, each row of a common word rewritten once
-- per batch. Searches stay exact and see a listing as soon as its insert commits: they read the
-- queued listings' keys from their own columns beside the bitmaps (src/repositories/search/pending.ts).
--
-- A queued listing is in exactly one of two places: its doc is in search_pending, or its bits and
-- counts are set. Whoever moves it locks its queue row first: the merge (skipping rows others hold),
-- a delete (which takes it out of the queue, so there is nothing to remove), an update of its search
-- columns (which leaves it to the merge, which reads the columns as they are then).
CREATE TABLE search_pending (doc bigint PRIMARY KEY);

-- The docs of `docs` still queued, their queue rows locked until commit. A row the merge has taken is
-- waited for; once the merge commits, that listing is no longer queued and its bits are set.
CREATE FUNCTION search_pending_lock(docs bigint[]) RETURNS bigint[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(doc), '{}') FROM (
    SELECT doc FROM search_pending WHERE doc = ANY (docs) ORDER BY doc FOR UPDATE
  ) q;
$$;

-- What a search reads of the queued listings beside the merged rows (src/repositories/search/pending.ts):
-- rows shaped as search_bitmaps' for the keys (kinds[i], keys[i]), one per listing and key with its
-- bit set; and as search_terms' for the terms. Functions of their own (PL/pgSQL, so never inlined),
-- which look at the queue before planning the query of its keys: a search statement joining
-- search_keys_of's SQL in place took 0.6 ms more to plan, queue empty or not.
CREATE FUNCTION search_pending_bits(kinds "char"[], keys text[])
RETURNS TABLE (kind "char", key text, block integer, bits bit(16384)) LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM search_pending) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT e.kind, e.key, (p.doc / 16384)::int, B'1'::bit(16384) >> (p.doc % 16384)::int
    FROM search_pending p JOIN listings l ON l.doc = p.doc,
         search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE (e.kind, e.key) IN (SELECT * FROM unnest(kinds, keys));
END
$$;

CREATE FUNCTION search_pending_terms(terms text[])
RETURNS TABLE (term text, listings integer) LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM search_pending) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT e.key, count(*)::int
    FROM search_pending p JOIN listings l ON l.doc = p.doc,
         search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE e.kind IS NULL AND e.key = ANY (terms)
   GROUP BY 1;
END
$$;

-- Inserted listings are queued.
CREATE FUNCTION search_index_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_pending (doc) SELECT doc FROM changed ORDER BY doc;
  RETURN NULL;
END
$$;

-- Deleted listings leave the queue, or, when merged already, take their bits and counts with them.
-- Two statements: the second reads the bitmaps after any merge the first waited for has committed.
CREATE OR REPLACE FUNCTION search_index_of_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unmerged bigint[];
BEGIN
  WITH gone AS (DELETE FROM search_pending p USING changed c WHERE p.doc = c.doc RETURNING p.doc)
  SELECT coalesce(array_agg(doc), '{}') INTO unmerged FROM gone;
  PERFORM search_index_change(false, array_agg(e.kind), array_agg(e.key), array_agg(l.doc))
     FROM changed l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
    WHERE l.doc <> ALL (unmerged);
  RETURN NULL;
END
$$;

DROP TRIGGER search_index_add ON listings;
CREATE TRIGGER search_index_add AFTER INSERT ON listings
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_index_queue();

-- As in migration 016, for merged listings only: a queued one is left to the merge.
CREATE OR REPLACE FUNCTION search_index_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('bookstore.search_by_statement', true) = 'on'
     OR cardinality(search_pending_lock(ARRAY[OLD.doc])) > 0 THEN
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

-- As in migration 016, for merged listings only (the search text rebuild removes a batch's entries,
-- rewrites its columns, then adds them; a queued listing is merged from its new columns later). The
-- merge below adds its batch through here too, once it has taken the batch out of the queue.
DROP FUNCTION search_index_of_docs(boolean, bigint[]);
CREATE FUNCTION search_index_of_docs(adding boolean, docs bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  queued bigint[] := search_pending_lock(docs);
BEGIN
  PERFORM search_index_change(adding, array_agg(e.kind), array_agg(e.key), array_agg(l.doc))
     FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
    WHERE l.doc = ANY (docs) AND l.doc <> ALL (queued);
END
$$;

-- Merges up to `batch` queued listings, the oldest first, and returns how many it took. Queue rows
-- another transaction holds are skipped (a merge running beside this one, or an update of that
-- listing), so two merges never take the same listing; they may wait for each other's bitmap rows,
-- locked in key order. The listings are read after their queue rows are taken, by a statement of
-- its own, so an update that held a row is read as committed.
CREATE FUNCTION search_index_merge(batch integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  taken bigint[];
BEGIN
  WITH claimed AS (SELECT doc FROM search_pending ORDER BY doc LIMIT batch FOR UPDATE SKIP LOCKED),
       gone AS (DELETE FROM search_pending p USING claimed c WHERE p.doc = c.doc RETURNING p.doc)
  SELECT array_agg(doc) INTO taken FROM gone;
  IF taken IS NULL THEN
    RETURN 0;
  END IF;
  -- Taken out of the queue above, so none of them is queued for search_index_of_docs.
  PERFORM search_index_of_docs(true, taken);
  RETURN cardinality(taken);
END
$$;

-- As in migration 016, for the blocks of migration 018; the queue is empty after it, since every
-- listing is then merged.
CREATE OR REPLACE FUNCTION search_index_rebuild() RETURNS void LANGUAGE sql AS $$
  TRUNCATE search_bitmaps, search_terms, search_pending;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT e.kind, e.key, (l.doc / 16384)::int, search_bits(array_agg((l.doc % 16384)::int))
    FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE e.kind IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
  INSERT INTO search_terms (term, listings)
  SELECT e.key, count(*)
    FROM listings l, search_keys_of(l.store_id, l.tags, l.search_vec, l.author_tags_vec, l.title_grams) e
   WHERE e.kind IS NULL GROUP BY 1;
$$;
