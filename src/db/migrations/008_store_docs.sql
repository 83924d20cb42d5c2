-- A store's listings by their doc, from the index alone: a one-word search in one store looks each of
-- them up in the word's postings (see searchPostings) instead of reading the store's listings from the
-- table, one page each (a store's listings are spread over the whole table).
CREATE INDEX listings_store_docs ON listings (store_id) INCLUDE (doc);
