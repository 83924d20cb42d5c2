-- Full-text search over listings. The words are cut by the application (jieba, search mode) when a
-- listing is written and stored here as ready-made lexemes, so the `simple`-style lexemes need no
-- database-side parser; see docs/search.md.
ALTER TABLE listings
  -- title A, author B, tags B, book_intro C, content D: what queries match and ts_rank_cd ranks.
  ADD COLUMN search_vec tsvector NOT NULL DEFAULT ''::tsvector,
  -- author A, tags B: tells an author match from a tag match when the scope names only one of them.
  ADD COLUMN author_tags_vec tsvector NOT NULL DEFAULT ''::tsvector,
  -- every character and neighbouring pair of the title: substring search for short queries.
  ADD COLUMN title_grams tsvector NOT NULL DEFAULT ''::tsvector,
  -- pub_year is free text ('2002-1', '1998-08', '1992年', '1990'): year*100 + month (0 when
  -- absent) for sorting; NULL when it does not start with a four-digit year.
  ADD COLUMN pub_year_key integer GENERATED ALWAYS AS (
    CASE WHEN pub_year ~ '^\s*[0-9]{4}' THEN
      substring(pub_year FROM '^\s*([0-9]{4})')::integer * 100
      + coalesce(least(substring(pub_year FROM '^\s*[0-9]{4}\D{1,3}([0-9]{1,2})')::integer, 12), 0)
    END
  ) STORED;

CREATE INDEX listings_search ON listings USING gin (search_vec);
CREATE INDEX listings_title_grams ON listings USING gin (title_grams);
CREATE INDEX listings_tags ON listings USING gin (tags);
-- Sorted browsing of the whole site; the store-scoped case starts from the primary key.
CREATE INDEX listings_newest ON listings (created_at DESC, store_id, book_id);
CREATE INDEX listings_price ON listings (price, store_id, book_id);
CREATE INDEX listings_pub_year ON listings (pub_year_key DESC NULLS LAST, store_id, book_id);
CREATE INDEX listings_sales ON listings (sales DESC, store_id, book_id);
