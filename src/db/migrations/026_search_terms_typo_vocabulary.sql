-- search_terms is the vocabulary typo tolerance looks its candidates up in (src/search/typos.ts): a
-- Latin query word of 5 letters or more (TYPO_MIN_LETTERS) also matches the terms one edit away from
-- it. Such a term is made of Latin letters only and has at least 4 of them (one deleted). It held every
-- term of every listing, Chinese words and numbers included: about 170 rows upserted per listing at
-- each merge, of which about 20 could ever be a candidate. It now holds the terms that can be.

-- Whether a term can be a typo candidate: 4 characters or more, each in one of the Unicode blocks that
-- hold the Latin script's letters (the blocks, a little more than the letters: a symbol there is never
-- part of a folded word). test/search/search-typos.test.ts holds it to TYPO_MIN_LETTERS and to every
-- letter of the Latin script as the application's \p{Script=Latin} knows them.
CREATE FUNCTION search_typo_term(term text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT term ~ ('^[A-Za-z\u00aa-\u02e4\u1d00-\u1eff\u2071\u207f\u2090-\u209c\u212a\u212b\u2132\u214e'
                 '\u2160-\u2188\u2c60-\u2c7f\ua720-\ua7ff\uab30-\uab6f\ufb00-\ufb06\uff21-\uff3a\uff41-\uff5a'
                 '\U00010780-\U000107bf\U0001df00-\U0001dfff]{4,}$');
$$;

-- As in migration 022, the terms (no kind) restricted to the vocabulary.
CREATE OR REPLACE FUNCTION search_keys_of(store_id text, tags text[], v tsvector, at tsvector, g tsvector)
RETURNS TABLE (kind "char", key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT NULL::"char", x.term
    FROM (SELECT lexeme FROM unnest(v) UNION SELECT lexeme FROM unnest(at) UNION SELECT lexeme FROM unnest(g))
         AS x(term)
   WHERE search_typo_term(x.term)
  UNION ALL
  SELECT k.kind, u.lexeme
    FROM unnest(v) AS u,
         LATERAL (VALUES ('w'::"char", cardinality(u.weights) > 0), ('A', 'A' = ANY (u.weights)),
                         ('B', 'B' = ANY (u.weights))) AS k(kind, holds)
   WHERE k.holds
  UNION ALL SELECT 'k', u.lexeme FROM unnest(at) AS u WHERE 'B' = ANY (u.weights)
  UNION ALL SELECT 'g', u.lexeme FROM unnest(g) AS u WHERE char_length(u.lexeme) = 2
  UNION ALL SELECT 't', t FROM unnest(tags) AS t
  UNION ALL SELECT 's', store_id
  UNION ALL SELECT 'l', '';
$$;

-- The queued listings' terms as search_terms would count them once merged: none outside the vocabulary.
CREATE OR REPLACE FUNCTION search_pending_terms(terms text[])
RETURNS TABLE (term text, listings integer) LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM search_pending) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT t.term, count(*)::int
    FROM (SELECT DISTINCT u.term FROM unnest(terms) AS u(term) WHERE search_typo_term(u.term)) t
    CROSS JOIN LATERAL (SELECT search_lexeme_query(t.term, '') AS q) x
    CROSS JOIN search_pending p
    JOIN listings l ON l.doc = p.doc
   WHERE l.search_vec @@ x.q OR l.author_tags_vec @@ x.q OR l.title_grams @@ x.q
   GROUP BY 1;
END
$$;

DELETE FROM search_terms WHERE NOT search_typo_term(term);
