-- The search box's completions at 1 000 000 listings: a short prefix (`sh`) matches thousands of
-- texts' keys, and each text was looked up in suggestion_texts for its count before the top few were
-- taken (p99 54–86 ms). Each key now carries its text's count, so one range of the keys' primary key
-- ranks the completions, and only the few taken are looked up.

ALTER TABLE suggestion_keys ADD COLUMN listings integer NOT NULL DEFAULT 0;

UPDATE suggestion_keys k SET listings = s.listings
  FROM suggestion_texts s WHERE s.kind = k.kind AND s.text = k.text;

-- The primary key also holds the count, so that a prefix's range is ranked from the index alone
-- (read from the table, the keys of one range lie on as many pages as they are rows: 1 957 pages for
-- the 8 878 keys of `sh`).
ALTER TABLE suggestion_keys DROP CONSTRAINT suggestion_keys_pkey,
  ADD CONSTRAINT suggestion_keys_pkey PRIMARY KEY (key, kind, text) INCLUDE (listings);

-- A text's keys, found when its count changes.
CREATE INDEX suggestion_keys_text ON suggestion_keys (kind, text);

-- As in migration 012, and then the changed texts' keys take their new counts. The texts' rows are
-- locked first (the upsert, in (kind, text) order), so two transactions never update the same keys
-- in opposite orders.
CREATE OR REPLACE FUNCTION suggestion_texts_change(kinds "char"[], texts text[], deltas integer[],
                                                   store_ids text[], book_ids text[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO suggestion_texts AS s (kind, text, listings, store_id, book_id)
  SELECT e.kind, e.text, sum(e.delta), (array_agg(e.store_id ORDER BY e.store_id, e.book_id))[1],
         (array_agg(e.book_id ORDER BY e.store_id, e.book_id))[1]
    FROM unnest(kinds, texts, deltas, store_ids, book_ids) AS e(kind, text, delta, store_id, book_id)
   GROUP BY 1, 2 HAVING sum(e.delta) <> 0 ORDER BY 1, 2
  ON CONFLICT (kind, text) DO UPDATE
    SET listings = s.listings + excluded.listings,
        store_id = coalesce(s.store_id, excluded.store_id), book_id = coalesce(s.book_id, excluded.book_id);
  UPDATE suggestion_keys k SET listings = s.listings
    FROM (SELECT DISTINCT e.kind, e.text FROM unnest(kinds, texts) AS e(kind, text)) e
    JOIN suggestion_texts s ON s.kind = e.kind AND s.text = e.text
   WHERE k.kind = s.kind AND k.text = s.text AND k.listings <> s.listings;
$$;
