-- Bitmaps per field as well as per word: searches of several words, and searches limited to the
-- title or the tags, counted and paged from bitmaps instead of visiting every match.
--
-- Without them, a search of several words visits every listing holding all of them to rank it. Such
-- searches rank by tier (every word in the title, else every word in author or tags) and by how many of the words the title, or
-- else author or tags, hold, newest first among equals (see docs/search.md). Every part of that
-- order is a set of listings, so with one bitmap per word and field the total and the order are bit
-- operations over 8 192 listings at a time, and only the page's listings are read.
--
-- Kinds, from each row of search_postings (a, b, c, d count the term's positions per weight):
--   'w' the term is in search_vec at all (a title gram alone is 'g'),
--   'A' it has weight A (title), 'B' weight B (author or tags) in search_vec,
--   'k' it is a word of a tag (author_tags_vec), 'g' it is a pair of neighbouring characters of the title
--   (title_grams; single characters are left out: they are the most common grams, and a query of one
--   character is rare);
-- and 't', an exact tag of listings.tags.
ALTER TABLE search_bitmaps DROP CONSTRAINT search_bitmaps_kind_check;
ALTER TABLE search_bitmaps ADD CONSTRAINT search_bitmaps_kind_check CHECK (kind IN ('w', 'A', 'B', 'k', 'g', 't'));

-- The kinds of bitmap a posting sets a bit in.
CREATE FUNCTION search_bitmap_kinds(term text, fields smallint, a smallint, b smallint, c smallint, d smallint)
RETURNS SETOF "char" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT v.kind FROM (VALUES ('w'::"char", a + b + c + d > 0), ('A', a > 0), ('B', b > 0),
                             ('k', fields & 4 <> 0), ('g', fields & 32 <> 0 AND char_length(term) = 2))
                      AS v(kind, holds)
   WHERE v.holds;
$$;

-- One kind per bit, each given: rows are locked in (kind, key, block) order.
DROP FUNCTION search_bitmaps_change(boolean, "char", text[], bigint[]);
CREATE FUNCTION search_bitmaps_change(adding boolean, kinds "char"[], keys text[], docs bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF adding THEN
    INSERT INTO search_bitmaps AS b (kind, key, block, bits)
    SELECT e.kind, e.key, (e.doc / 8192)::int, search_bits(array_agg((e.doc % 8192)::int))
      FROM unnest(kinds, keys, docs) AS e(kind, key, doc)
     GROUP BY e.kind, e.key, e.doc / 8192 ORDER BY e.kind, e.key, e.doc / 8192
    ON CONFLICT (kind, key, block) DO UPDATE SET bits = b.bits | excluded.bits;
  ELSE
    WITH gone AS (
      SELECT e.kind, e.key, (e.doc / 8192)::int AS block, search_bits(array_agg((e.doc % 8192)::int)) AS mask
        FROM unnest(kinds, keys, docs) AS e(kind, key, doc) GROUP BY 1, 2, 3
    ), locked AS (
      SELECT b.kind, b.key, b.block, gone.mask FROM search_bitmaps b JOIN gone USING (kind, key, block)
       ORDER BY b.kind, b.key, b.block FOR UPDATE OF b
    )
    UPDATE search_bitmaps b SET bits = b.bits & ~locked.mask FROM locked
     WHERE b.kind = locked.kind AND b.key = locked.key AND b.block = locked.block;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION search_bitmaps_of_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(TG_OP = 'INSERT', array_agg(k.kind), array_agg(p.term), array_agg(p.doc))
     FROM changed p, search_bitmap_kinds(p.term, p.fields, p.a, p.b, p.c, p.d) AS k(kind);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION search_bitmaps_of_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(TG_OP = 'INSERT', array_agg('t'::"char"), array_agg(t.tag), array_agg(l.doc))
     FROM changed l, unnest(l.tags) t(tag);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION search_bitmaps_tags_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_bitmaps_change(false, array_agg('t'::"char"), array_agg(t), array_agg(OLD.doc)) FROM unnest(OLD.tags) t;
  PERFORM search_bitmaps_change(true, array_agg('t'::"char"), array_agg(t), array_agg(NEW.doc)) FROM unnest(NEW.tags) t;
  RETURN NULL;
END
$$;

-- Rows are written in key order, so that the blocks of one bitmap share table pages: a search reads
-- a bitmap's blocks from a few pages instead of one page each. Pages are left a fifth empty, room for
-- one more row version: a row that add_book rewrites then stays on its page (a HOT update), instead of
-- moving to wherever there is room and scattering its bitmap over the table.
ALTER TABLE search_bitmaps SET (fillfactor = 80);
CREATE OR REPLACE FUNCTION search_bitmaps_rebuild() RETURNS void LANGUAGE sql AS $$
  TRUNCATE search_bitmaps;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT k.kind, p.term, (p.doc / 8192)::int, search_bits(array_agg((p.doc % 8192)::int))
    FROM search_postings p, search_bitmap_kinds(p.term, p.fields, p.a, p.b, p.c, p.d) AS k(kind)
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
  INSERT INTO search_bitmaps (kind, key, block, bits)
  SELECT 't', t.tag, (l.doc / 8192)::int, search_bits(array_agg((l.doc % 8192)::int))
    FROM listings l, unnest(l.tags) AS t(tag) GROUP BY 2, 3 ORDER BY 2, 3;
$$;
SELECT search_bitmaps_rebuild();
