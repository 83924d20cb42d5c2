-- Suggestions for the search box (GET /search/suggest): completions of a prefix among the catalogue's
-- titles, authors and tags.
--
-- suggestion_texts holds each distinct title, author and tag once, with how many listings carry it
-- (the relevance of a suggestion) and, for a title, one listing that has it. The trigger below keeps
-- it in the statement that adds or removes listings.
CREATE TABLE suggestion_texts (
  kind     "char"  NOT NULL CHECK (kind IN ('t', 'a', 'g')), -- title, author, tag
  text     text    NOT NULL,
  listings integer NOT NULL,
  store_id text,
  book_id  text,
  PRIMARY KEY (kind, text)
);

-- The keys a text is completed from: its folded form (NFKC, lower case) and, for Chinese text, its
-- pinyin without tones or spaces. Pinyin needs a library, so the application computes the keys and
-- adds them in the transaction that lists a book (src/repositories/suggest.ts); a key stays when its
-- text loses its last listing (the search ignores texts without listings). COLLATE "C" lets the
-- primary key answer a prefix as a range.
CREATE TABLE suggestion_keys (
  key  text COLLATE "C" NOT NULL,
  kind "char" NOT NULL,
  text text NOT NULL,
  PRIMARY KEY (key, kind, text)
);

-- Adds each (kind, text) delta, summed per row and in key order (concurrent inserts wait, never deadlock).
CREATE FUNCTION suggestion_texts_change(kinds "char"[], texts text[], deltas integer[], store_ids text[],
                                        book_ids text[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO suggestion_texts AS s (kind, text, listings, store_id, book_id)
  SELECT e.kind, e.text, sum(e.delta), (array_agg(e.store_id ORDER BY e.store_id, e.book_id))[1],
         (array_agg(e.book_id ORDER BY e.store_id, e.book_id))[1]
    FROM unnest(kinds, texts, deltas, store_ids, book_ids) AS e(kind, text, delta, store_id, book_id)
   GROUP BY 1, 2 HAVING sum(e.delta) <> 0 ORDER BY 1, 2
  ON CONFLICT (kind, text) DO UPDATE
    SET listings = s.listings + excluded.listings,
        store_id = coalesce(s.store_id, excluded.store_id), book_id = coalesce(s.book_id, excluded.book_id);
$$;

-- The texts a listing suggests: its title (with the listing), its author, each of its tags once.
CREATE FUNCTION suggestion_texts_of(title text, author text, tags text[], store_id text, book_id text)
RETURNS TABLE (kind "char", text text, store_id text, book_id text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 't'::"char", title, store_id, book_id WHERE btrim(title) <> ''
  UNION ALL SELECT 'a'::"char", author, NULL, NULL WHERE btrim(coalesce(author, '')) <> ''
  UNION ALL SELECT DISTINCT 'g'::"char", t, NULL::text, NULL::text FROM unnest(tags) AS t WHERE btrim(t) <> '';
$$;

CREATE FUNCTION suggestion_texts_of_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  PERFORM suggestion_texts_change(array_agg(s.kind), array_agg(s.text), array_agg(sign),
                                  array_agg(s.store_id), array_agg(s.book_id))
     FROM changed l, suggestion_texts_of(l.title, l.author, l.tags, l.store_id, l.book_id) s;
  IF TG_OP = 'DELETE' THEN
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
CREATE TRIGGER suggestion_texts_add AFTER INSERT ON listings
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION suggestion_texts_of_rows();
CREATE TRIGGER suggestion_texts_remove AFTER DELETE ON listings
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION suggestion_texts_of_rows();

-- The listings there are already. Their keys are computed by the application: until
-- `bookstore suggest-keys` has run, existing texts are completed from their folded form only, which
-- this migration adds (the same NFKC and lower-casing as the application's).
-- Listings from before this migration get their texts and folded keys below; their pinyin keys need
-- the application's library. A row here asks the next start to add them (completeSuggestionKeys in
-- src/repositories/suggest.ts, run after the migrations), which deletes it once they are all in.
CREATE TABLE suggestion_keys_pending (pending boolean PRIMARY KEY DEFAULT true CHECK (pending));

INSERT INTO suggestion_texts (kind, text, listings, store_id, book_id)
SELECT s.kind, s.text, count(*), (array_agg(s.store_id ORDER BY s.store_id, s.book_id))[1],
       (array_agg(s.book_id ORDER BY s.store_id, s.book_id))[1]
  FROM listings l, suggestion_texts_of(l.title, l.author, l.tags, l.store_id, l.book_id) s
 GROUP BY 1, 2;
INSERT INTO suggestion_keys (key, kind, text)
SELECT DISTINCT left(lower(normalize(text, NFKC)), 64), kind, text FROM suggestion_texts
ON CONFLICT DO NOTHING;
INSERT INTO suggestion_keys_pending SELECT true WHERE EXISTS (SELECT 1 FROM suggestion_texts);
