-- A search reads the listings still queued for the index from their own columns (migration 019).
-- It expanded every queued listing into all its keys (search_keys_of: about 365 rows for a book of
-- ~3 KB) and joined them to the few the search wanted: about 0.45 ms a queued listing per search
-- (p50 3.9 ms with 5 queued, 12.1 with 25, 21.9 with 50), paid by every search while sellers add books.
-- Each wanted key is now looked up in each queued listing's columns instead: a tsvector answers `@@`
-- for one lexeme by binary search (p50 1.5, 1.8 and 3.1 ms).
--
-- The kinds as search_keys_of defines them (migration 022):
--   'w' a lexeme of search_vec with a position (every lexeme the application writes has one),
--   'A'/'B' one with a position of that weight, 'k' a lexeme of author_tags_vec with weight B,
--   'g' a lexeme of two characters of title_grams, 't' a tag, 's' the store, 'l' every listing;
-- a term (no kind) is a lexeme of any of the three tsvectors.

-- The query matching one lexeme as it is (no parsing into words), with the weights given (':A', or
-- '' for any); NULL for the empty string, which no tsvector holds.
CREATE FUNCTION search_lexeme_query(lexeme text, weights text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN lexeme <> ''
              THEN ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''' || weights)::tsquery END;
$$;

CREATE OR REPLACE FUNCTION search_pending_bits(kinds "char"[], keys text[])
RETURNS TABLE (kind "char", key text, block integer, bits bit(16384)) LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM search_pending) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT w.kind, w.key, (l.doc / 16384)::int, B'1'::bit(16384) >> (l.doc % 16384)::int
    FROM unnest(kinds, keys) AS w(kind, key)
    CROSS JOIN LATERAL (SELECT CASE w.kind WHEN 'A' THEN search_lexeme_query(w.key, ':A')
                                           WHEN 'B' THEN search_lexeme_query(w.key, ':B')
                                           WHEN 'k' THEN search_lexeme_query(w.key, ':B')
                                           WHEN 'w' THEN search_lexeme_query(w.key, '')
                                           WHEN 'g' THEN search_lexeme_query(w.key, '') END AS q) x
    CROSS JOIN search_pending p
    JOIN listings l ON l.doc = p.doc
   WHERE CASE w.kind
           WHEN 'w' THEN l.search_vec @@ x.q
           WHEN 'A' THEN l.search_vec @@ x.q
           WHEN 'B' THEN l.search_vec @@ x.q
           WHEN 'k' THEN l.author_tags_vec @@ x.q
           WHEN 'g' THEN char_length(w.key) = 2 AND l.title_grams @@ x.q
           WHEN 't' THEN w.key = ANY (l.tags)
           WHEN 's' THEN l.store_id = w.key
           WHEN 'l' THEN w.key = ''
           ELSE false
         END;
END
$$;

CREATE OR REPLACE FUNCTION search_pending_terms(terms text[])
RETURNS TABLE (term text, listings integer) LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM search_pending) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT t.term, count(*)::int
    FROM (SELECT DISTINCT u.term FROM unnest(terms) AS u(term)) t
    CROSS JOIN LATERAL (SELECT search_lexeme_query(t.term, '') AS q) x
    CROSS JOIN search_pending p
    JOIN listings l ON l.doc = p.doc
   WHERE l.search_vec @@ x.q OR l.author_tags_vec @@ x.q OR l.title_grams @@ x.q
   GROUP BY 1;
END
$$;

-- The expansion the two functions above read (migration 021); nothing else does.
DROP FUNCTION search_pending_keys();
