-- Bitmaps of which listings hold each word and carry each tag: exact totals for one word with tag
-- filters without visiting the matches.
--
-- Without them, a search for one word filtered by a tag reads every listing holding both (the word's
-- score and the count need them all). With one bit per listing, the number of listings holding the word and carrying the
-- tags is the popcount of the AND of their bitmaps, and the page is the top of the word's ranked
-- postings (search_postings_rank) with the listings whose tag bits are not set skipped.
--
-- kind: 'w' a term of search_postings, 't' an exact tag of listings.tags.
-- block: doc / 8192; bits: bit (doc % 8192) is set when the listing of that doc holds the word or tag.
-- A row is 1 kB, small enough to stay in the table page uncompressed.
CREATE TABLE search_bitmaps (
  kind  "char" NOT NULL CHECK (kind IN ('w', 't')),
  key   text NOT NULL,
  block integer NOT NULL CHECK (block >= 0),
  bits  bit(8192) NOT NULL,
  PRIMARY KEY (kind, key, block)
);

-- The bitmap with the given offsets (0..8191) set. A listing added on its own sets one bit per word:
-- set_bit on an empty bitmap. A bulk load sets many per block: those are built a byte at a time as
-- hexadecimal text, writing each run of empty bytes at once, so the cost follows the number of offsets.
CREATE FUNCTION search_bits(offsets integer[]) RETURNS bit(8192)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  bits bit(8192) := B'0'::bit(8192);
  o integer;
BEGIN
  IF cardinality(offsets) <= 32 THEN
    FOREACH o IN ARRAY offsets LOOP
      bits := set_bit(bits, o, 1);
    END LOOP;
    RETURN bits;
  END IF;
  SELECT ('x' || rpad(string_agg(repeat('00', gap) || lpad(to_hex(v), 2, '0'), '' ORDER BY byte), 2048, '0'))::bit(8192)
    INTO bits
    FROM (SELECT byte, v, byte - coalesce(lag(byte) OVER (ORDER BY byte), -1) - 1 AS gap
            FROM (SELECT x >> 3 AS byte, bit_or(128 >> (x & 7)) AS v FROM unnest(offsets) x GROUP BY 1) b) g;
  RETURN bits;
END
$$;

-- Bits are set (adding) or cleared in the statement that changes postings or tags: for each i, the bit
-- of docs[i] in the bitmap of keys[i]. Rows are locked in key order, so two transactions adding
-- listings wait for each other but never deadlock.
CREATE FUNCTION search_bitmaps_change(adding boolean, k "char", keys text[], docs bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF adding THEN
    INSERT INTO search_bitmaps AS b (kind, key, block, bits)
    SELECT k, e.key, (e.doc / 8192)::int, search_bits(array_agg((e.doc % 8192)::int))
      FROM unnest(keys, docs) AS e(key, doc)
     GROUP BY e.key, e.doc / 8192 ORDER BY e.key, e.doc / 8192
    ON CONFLICT (kind, key, block) DO UPDATE SET bits = b.bits | excluded.bits;
  ELSE
    WITH gone AS (
      SELECT e.key, (e.doc / 8192)::int AS block, search_bits(array_agg((e.doc % 8192)::int)) AS mask
        FROM unnest(keys, docs) AS e(key, doc) GROUP BY 1, 2
    ), locked AS (
      SELECT b.key, b.block, gone.mask FROM search_bitmaps b JOIN gone USING (key, block)
       WHERE b.kind = k ORDER BY b.key, b.block FOR UPDATE OF b
    )
    UPDATE search_bitmaps b SET bits = b.bits & ~locked.mask FROM locked
     WHERE b.kind = k AND b.key = locked.key AND b.block = locked.block;
  END IF;
END
$$;

-- One function per table for its insert and delete triggers, which both name their rows `changed`.
CREATE FUNCTION search_bitmaps_of_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(TG_OP = 'INSERT', 'w', array_agg(term), array_agg(doc)) FROM changed;
  RETURN NULL;
END
$$;
CREATE TRIGGER search_bitmaps_postings_add AFTER INSERT ON search_postings
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_bitmaps_of_postings();
CREATE TRIGGER search_bitmaps_postings_remove AFTER DELETE ON search_postings
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_bitmaps_of_postings();

CREATE FUNCTION search_bitmaps_of_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(TG_OP = 'INSERT', 't', array_agg(t.tag), array_agg(l.doc))
     FROM changed l, unnest(l.tags) t(tag);
  RETURN NULL;
END
$$;
CREATE TRIGGER search_bitmaps_tags_add AFTER INSERT ON listings
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_bitmaps_of_tags();
CREATE TRIGGER search_bitmaps_tags_remove AFTER DELETE ON listings
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_bitmaps_of_tags();

-- A row trigger, so that the stock updates of orders (which never name tags) pay nothing.
CREATE FUNCTION search_bitmaps_tags_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(false, 't', OLD.tags, array_fill(OLD.doc, ARRAY[cardinality(OLD.tags)]));
  PERFORM search_bitmaps_change(true, 't', NEW.tags, array_fill(NEW.doc, ARRAY[cardinality(NEW.tags)]));
  RETURN NULL;
END
$$;
CREATE TRIGGER search_bitmaps_tags_update AFTER UPDATE OF tags ON listings
  FOR EACH ROW WHEN (OLD.tags IS DISTINCT FROM NEW.tags) EXECUTE FUNCTION search_bitmaps_tags_update();

-- Every bitmap from the postings and tags: here, and after a bulk load that ran without the triggers
-- (tools/catalog/gen-catalog.ts), which is faster than setting bits batch by batch.
CREATE FUNCTION search_bitmaps_rebuild() RETURNS void LANGUAGE sql AS $$
  TRUNCATE search_bitmaps;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT 'w', term, (doc / 8192)::int, search_bits(array_agg((doc % 8192)::int))
    FROM search_postings GROUP BY term, doc / 8192;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT 't', t.tag, (l.doc / 8192)::int, search_bits(array_agg((l.doc % 8192)::int))
    FROM listings l, unnest(l.tags) AS t(tag) GROUP BY t.tag, l.doc / 8192;
$$;
SELECT search_bitmaps_rebuild();
