-- Wide values are compressed with lz4 where the server has it. A value over about 2 KB is compressed
-- when its row is written: a search bitmap (bit(16384), 2 KB however few bits it holds), a listing's
-- intros, content and search vectors, a picture. pglz, the default, costs far more time on both sides
-- for the same size: upserting 5 000 bitmaps took 94–106 ms with lz4 against 204–216 ms with pglz,
-- and the same 20 000 bitmaps took 6.2 MB either way. A merge of queued listings into the index
-- rewrites about 200 bitmaps per listing, and every search decompresses the bitmaps it reads.
--
-- PGlite is built without lz4 and keeps pglz. Values already stored keep the method they were written
-- with (PostgreSQL reads both); a value takes lz4 the next time its row is written.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE search_bitmaps ALTER COLUMN bits SET COMPRESSION lz4;
    ALTER TABLE listings
      ALTER COLUMN author_intro SET COMPRESSION lz4,
      ALTER COLUMN book_intro SET COMPRESSION lz4,
      ALTER COLUMN content SET COMPRESSION lz4,
      ALTER COLUMN extra SET COMPRESSION lz4,
      ALTER COLUMN search_vec SET COMPRESSION lz4,
      ALTER COLUMN author_tags_vec SET COMPRESSION lz4,
      ALTER COLUMN title_grams SET COMPRESSION lz4;
    ALTER TABLE pictures ALTER COLUMN data SET COMPRESSION lz4;
  END IF;
END
$$;
