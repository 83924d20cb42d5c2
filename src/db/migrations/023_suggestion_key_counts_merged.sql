-- add_book set the new count of each of its texts on the texts' keys (migration 017): about 14 key
-- rows a book (title, author and tags, two keys each), each update a new row version in both of the
-- keys' indexes, since the count is in the primary key. That was 0.6 of the 1.8 ms the listing's
-- statement spent in the database. The counts only rank completions, so a listing's insert now leaves
-- them to the merge that takes the listing from search_pending, which sets them once for a whole batch.
-- The insert still stores its texts' missing keys, each with its text's count as the statement
-- starts plus the statement's own listings (insertKeysSql), so a new title is completed at once.
-- A delete sets its texts' key counts itself, as before.

-- The texts' counts alone; their keys are set by suggestion_keys_sync.
CREATE OR REPLACE FUNCTION suggestion_texts_change(kinds "char"[], texts text[], deltas integer[],
                                                   store_ids text[], book_ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO suggestion_texts AS s (kind, text, listings, store_id, book_id)
  SELECT e.kind, e.text, sum(e.delta), (array_agg(e.store_id ORDER BY e.store_id, e.book_id))[1],
         (array_agg(e.book_id ORDER BY e.store_id, e.book_id))[1]
    FROM unnest(kinds, texts, deltas, store_ids, book_ids) AS e(kind, text, delta, store_id, book_id)
   GROUP BY 1, 2 HAVING sum(e.delta) <> 0 ORDER BY 1, 2
  ON CONFLICT (kind, text) DO UPDATE
    SET listings = s.listings + excluded.listings,
        store_id = coalesce(s.store_id, excluded.store_id), book_id = coalesce(s.book_id, excluded.book_id);
END
$$;

-- Sets the texts' counts on their keys where they differ. The texts whose keys differ are locked first,
-- in (kind, text) order as every writer of the texts locks them, and their counts read after: a count
-- another transaction is changing is read once it has committed, and two of these never write one
-- text's keys from different counts. A text whose count changes later is set again by the merge that
-- takes the listing that changed it, or by the delete.
CREATE FUNCTION suggestion_keys_sync(kinds "char"[], texts text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  due_kinds "char"[];
  due_texts text[];
BEGIN
  SELECT array_agg(s.kind ORDER BY s.kind, s.text), array_agg(s.text ORDER BY s.kind, s.text)
    INTO due_kinds, due_texts
    FROM suggestion_texts s
   WHERE (s.kind, s.text) IN (SELECT * FROM unnest(kinds, texts))
     AND EXISTS (SELECT FROM suggestion_keys k WHERE k.kind = s.kind AND k.text = s.text AND k.listings <> s.listings);
  IF due_kinds IS NULL THEN
    RETURN;
  END IF;
  PERFORM FROM suggestion_texts s WHERE (s.kind, s.text) IN (SELECT * FROM unnest(due_kinds, due_texts))
    ORDER BY s.kind, s.text FOR NO KEY UPDATE;
  UPDATE suggestion_keys k SET listings = s.listings
    FROM suggestion_texts s
   WHERE (s.kind, s.text) IN (SELECT * FROM unnest(due_kinds, due_texts))
     AND k.kind = s.kind AND k.text = s.text AND k.listings <> s.listings;
END
$$;

-- As in migration 012; a delete also sets its texts' key counts.
CREATE OR REPLACE FUNCTION suggestion_texts_of_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  PERFORM suggestion_texts_change(array_agg(s.kind), array_agg(s.text), array_agg(sign),
                                  array_agg(s.store_id), array_agg(s.book_id))
     FROM changed l, suggestion_texts_of(l.title, l.author, l.tags, l.store_id, l.book_id) s;
  IF TG_OP = 'DELETE' THEN
    PERFORM suggestion_keys_sync(array_agg(s.kind), array_agg(s.text))
       FROM changed l, suggestion_texts_of(l.title, l.author, l.tags, l.store_id, l.book_id) s;
    -- A title whose listing left points at another listing with that title (deletes are rare: the
    -- look-up by title reads the table).
    UPDATE suggestion_texts s
       SET (store_id, book_id) = (SELECT l.store_id, l.book_id FROM listings l WHERE l.title = s.text LIMIT 1)
      FROM changed c
     WHERE s.kind = 't' AND s.store_id = c.store_id AND s.book_id = c.book_id;
  END IF;
  RETURN NULL;
END
$$;

-- As in migration 019; then the merged listings' texts' key counts, last, so that the texts stay
-- locked only from there to the commit.
CREATE OR REPLACE FUNCTION search_index_merge(batch integer) RETURNS integer LANGUAGE plpgsql AS $$
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
  PERFORM suggestion_keys_sync(array_agg(s.kind), array_agg(s.text))
     FROM listings l, suggestion_texts_of(l.title, l.author, l.tags, l.store_id, l.book_id) s
    WHERE l.doc = ANY (taken);
  RETURN cardinality(taken);
END
$$;
