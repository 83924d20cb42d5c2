-- Bitmaps in blocks of 16 384 listings, stored compressed when sparse.
--
-- At 1 000 000 listings, 835 000 of the 996 000 rows of search_bitmaps held fewer than 64 bits, yet each
-- cost its full 1 kB: PostgreSQL compresses a value only when its row is longer than about 2 kB
-- (TOAST_TUPLE_THRESHOLD, fixed at build time; toast_tuple_target does not lower it). A row of
-- 16 384 bits is 2 kB and over that line, so PostgreSQL compresses each sparse row in place (pglz,
-- about 160 bytes for a rare word) and leaves a dense one as it is. STORAGE MAIN keeps every value in
-- the table page: a dense row that does not compress stays beside its key, never moved to the TOAST
-- table (which would cost an index lookup per read). The table went from 1 329 MB to 176 MB.
--
-- The rows of two neighbouring blocks are joined: block b's bits are the old block 2b's followed by
-- 2b + 1's, so nothing is recomputed from the listings.

ALTER TABLE search_bitmaps RENAME TO search_bitmaps_8k;
ALTER INDEX search_bitmaps_pkey RENAME TO search_bitmaps_8k_pkey;

CREATE TABLE search_bitmaps (
  kind  "char" NOT NULL CONSTRAINT search_bitmaps_kind CHECK (kind IN ('w', 'A', 'B', 'k', 'g', 't', 's')),
  key   text NOT NULL,
  block integer NOT NULL CONSTRAINT search_bitmaps_block CHECK (block >= 0),
  bits  bit(16384) NOT NULL,
  PRIMARY KEY (kind, key, block)
) WITH (fillfactor = 80);
ALTER TABLE search_bitmaps ALTER COLUMN bits SET STORAGE MAIN;

INSERT INTO search_bitmaps (kind, key, block, bits)
SELECT kind, key, block / 2,
       bit_or(CASE WHEN block % 2 = 0 THEN bits || B'0'::bit(8192) ELSE B'0'::bit(8192) || bits END)
  FROM search_bitmaps_8k
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

DROP TABLE search_bitmaps_8k;

-- As in migration 007, for the new block: set_bit for a few offsets, hexadecimal text for many.
DROP FUNCTION search_bits(integer[]);
CREATE FUNCTION search_bits(offsets integer[]) RETURNS bit(16384)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  bits bit(16384) := B'0'::bit(16384);
  o integer;
BEGIN
  IF cardinality(offsets) <= 32 THEN
    FOREACH o IN ARRAY offsets LOOP
      bits := set_bit(bits, o, 1);
    END LOOP;
    RETURN bits;
  END IF;
  SELECT ('x' || rpad(string_agg(repeat('00', gap) || lpad(to_hex(v), 2, '0'), '' ORDER BY byte), 4096, '0'))::bit(16384)
    INTO bits
    FROM (SELECT byte, v, byte - coalesce(lag(byte) OVER (ORDER BY byte), -1) - 1 AS gap
            FROM (SELECT x >> 3 AS byte, bit_or(128 >> (x & 7)) AS v FROM unnest(offsets) x GROUP BY 1) b) g;
  RETURN bits;
END
$$;

-- As in migration 010, for the new block.
CREATE OR REPLACE FUNCTION search_bitmaps_change(adding boolean, kinds "char"[], keys text[], docs bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF adding THEN
    INSERT INTO search_bitmaps AS b (kind, key, block, bits)
    SELECT e.kind, e.key, (e.doc / 16384)::int, search_bits(array_agg((e.doc % 16384)::int))
      FROM unnest(kinds, keys, docs) AS e(kind, key, doc)
     GROUP BY e.kind, e.key, e.doc / 16384 ORDER BY e.kind, e.key, e.doc / 16384
    ON CONFLICT (kind, key, block) DO UPDATE SET bits = b.bits | excluded.bits;
  ELSE
    WITH gone AS (
      SELECT e.kind, e.key, (e.doc / 16384)::int AS block, search_bits(array_agg((e.doc % 16384)::int)) AS mask
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

-- search_index_rebuild (migration 016) takes the new block in migration 019, with the queue it adds.
