-- Orders and payments that arrive while the database is busy are placed (paid) together: one call
-- per batch instead of one statement per order, and one commit. Each order (payment) in a batch is
-- still all or nothing on its own, and the batch gives each one exactly the answer it would have had
-- alone, in the batch's order: the checks run one order after another against the stock (balances)
-- the orders before it left, and only the orders that pass are written, together, at the end.

-- Places a batch of orders. Order i is p_order_ids[i], p_buyer_ids[i], p_store_ids[i],
-- p_token_hashes[i] (the session token's hash in hex; NULL: the caller was checked already, otherwise
-- it must be a live session of the buyer, as liveSession in src/repositories/sessions.ts says); its lines are the entries j of p_line_*
-- with p_line_orders[j] = i, given together and in book-id order. One row per order, in order:
-- whether the session was live and the buyer's, buyer and store open, the first book not listed,
-- the first book short of copies, the total (when within p_max_total), and whether it was placed.
CREATE FUNCTION place_orders(
  p_order_ids text[], p_buyer_ids text[], p_store_ids text[], p_token_hashes text[],
  p_line_orders int[], p_line_books text[], p_line_counts int[],
  p_timeout_s double precision, p_max_total numeric
) RETURNS TABLE (authed boolean, buyer_open boolean, store_open boolean, missing text, short text,
                 total numeric, created boolean)
LANGUAGE plpgsql
-- The statements below join the batch's arrays to listings, orders and users. PL/pgSQL plans them
-- once for any batch, and such a plan cannot see how few rows the arrays hold: it chose to read the
-- whole of listings (a hash join over a sequential scan) to find a few rows. Every row a batch
-- touches is found by its primary key; these settings keep it so. The same blind estimates (a
-- thousand rows per array) put the plans' costs above jit_above_cost: compiling them took about
-- 100 ms on every call, for work of a millisecond.
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off
AS $$
DECLARE
  n int := cardinality(p_order_ids);
  m int := cardinality(p_line_books);
  v_authed boolean[];
  v_buyer boolean[];
  v_store boolean[];
  -- Per line: the listing it takes from (an index into v_stock; NULL when not listed) and its price.
  v_listing int[];
  v_price bigint[];
  -- Per listing, locked: the copies left after the orders checked so far.
  v_stock int[];
  v_missing text[] := array_fill(NULL::text, ARRAY[n]);
  v_short text[] := array_fill(NULL::text, ARRAY[n]);
  v_total numeric[] := array_fill(0::numeric, ARRAY[n]);
  v_placed boolean[] := array_fill(false, ARRAY[n]);
  v_next int := 1;
  v_first int;
  v_k int;
  v_writes int;
  v_expected int;
BEGIN
  -- Session, then buyer, then store: a stranger's order learns nothing about buyer or store.
  SELECT array_agg(a ORDER BY o), array_agg(a AND b ORDER BY o), array_agg(a AND b AND s ORDER BY o)
    INTO v_authed, v_buyer, v_store
    FROM (SELECT o,
                 p_token_hashes[o] IS NULL OR EXISTS (
                   SELECT 1 FROM sessions
                    WHERE token_hash = decode(p_token_hashes[o], 'hex') AND user_id = p_buyer_ids[o] AND expires_at > now()) AS a,
                 EXISTS (SELECT 1 FROM users WHERE user_id = p_buyer_ids[o] AND closed_at IS NULL) AS b,
                 EXISTS (SELECT 1 FROM stores st JOIN users owner ON owner.user_id = st.owner_id
                          WHERE st.store_id = p_store_ids[o] AND owner.closed_at IS NULL) AS s
            FROM generate_subscripts(p_order_ids, 1) AS o) c;

  -- Every listing the batch's admissible orders take from, locked in (store_id, book_id) order, the
  -- order releaseStock locks them in: batches, lone orders and cancels queue, never deadlock.
  WITH wanted AS (
    SELECT j AS line, p_store_ids[p_line_orders[j]] AS store_id, p_line_books[j] AS book_id
      FROM generate_subscripts(p_line_books, 1) AS j
     WHERE v_store[p_line_orders[j]]
  ), locked AS MATERIALIZED (
    SELECT l.store_id, l.book_id, l.stock_level, l.price FROM listings l
     WHERE (l.store_id, l.book_id) IN (SELECT store_id, book_id FROM wanted)
     ORDER BY l.store_id, l.book_id FOR UPDATE
  ), numbered AS (
    SELECT *, row_number() OVER (ORDER BY store_id, book_id)::int AS k FROM locked
  )
  SELECT (SELECT array_agg(stock_level ORDER BY k) FROM numbered),
         (SELECT array_agg(x.k ORDER BY line) FROM (
            SELECT j AS line, nb.k FROM generate_subscripts(p_line_books, 1) AS j
              LEFT JOIN wanted w ON w.line = j LEFT JOIN numbered nb USING (store_id, book_id)) x),
         (SELECT array_agg(x.price ORDER BY line) FROM (
            SELECT j AS line, nb.price FROM generate_subscripts(p_line_books, 1) AS j
              LEFT JOIN wanted w ON w.line = j LEFT JOIN numbered nb USING (store_id, book_id)) x)
    INTO v_stock, v_listing, v_price;

  -- One order after another, against what the orders before it left.
  FOR v_o IN 1..n LOOP
    v_first := v_next;
    WHILE v_next <= m AND p_line_orders[v_next] = v_o LOOP
      v_next := v_next + 1;
    END LOOP;
    CONTINUE WHEN NOT v_store[v_o];
    FOR v_l IN v_first..v_next - 1 LOOP
      v_k := v_listing[v_l];
      IF v_k IS NULL THEN
        v_missing[v_o] := coalesce(v_missing[v_o], p_line_books[v_l]);
      ELSE
        IF v_stock[v_k] < p_line_counts[v_l] THEN
          v_short[v_o] := coalesce(v_short[v_o], p_line_books[v_l]);
        END IF;
        v_total[v_o] := v_total[v_o] + v_price[v_l]::numeric * p_line_counts[v_l];
      END IF;
    END LOOP;
    IF v_missing[v_o] IS NULL AND v_short[v_o] IS NULL AND v_total[v_o] <= p_max_total THEN
      v_placed[v_o] := true;
      FOR v_l IN v_first..v_next - 1 LOOP
        v_stock[v_listing[v_l]] := v_stock[v_listing[v_l]] - p_line_counts[v_l];
      END LOOP;
    END IF;
  END LOOP;

  IF true = ANY (v_placed) THEN
    -- The placed orders' copies leave the shelf (the guard repeats the check made above).
    WITH taken AS (
      SELECT p_store_ids[p_line_orders[j]] AS store_id, p_line_books[j] AS book_id, sum(p_line_counts[j])::int AS count
        FROM generate_subscripts(p_line_books, 1) AS j WHERE v_placed[p_line_orders[j]] GROUP BY 1, 2
    )
    UPDATE listings l SET stock_level = l.stock_level - t.count
      FROM taken t WHERE l.store_id = t.store_id AND l.book_id = t.book_id AND l.stock_level >= t.count;
    GET DIAGNOSTICS v_writes = ROW_COUNT;
    SELECT count(DISTINCT (p_store_ids[p_line_orders[j]], p_line_books[j]))::int INTO v_expected
      FROM generate_subscripts(p_line_books, 1) AS j WHERE v_placed[p_line_orders[j]];
    -- Every placed line had its copies, or the whole call is undone and sent again (BS001).
    PERFORM bookstore_assert(v_writes = v_expected, 'order half placed');

    -- Counted as sold (listing_sales, migration 005).
    UPDATE listing_sales s SET sales = s.sales + t.count
      FROM (SELECT p_store_ids[p_line_orders[j]] AS store_id, p_line_books[j] AS book_id, sum(p_line_counts[j]) AS count
              FROM generate_subscripts(p_line_books, 1) AS j WHERE v_placed[p_line_orders[j]] GROUP BY 1, 2) t
     WHERE s.store_id = t.store_id AND s.book_id = t.book_id;

    -- Unpaid, with the deadline by which it must be paid or it is cancelled by the sweep.
    INSERT INTO orders (order_id, buyer_id, store_id, total_price, expires_at)
    SELECT p_order_ids[o], p_buyer_ids[o], p_store_ids[o], v_total[o]::bigint, now() + make_interval(secs => p_timeout_s)
      FROM generate_subscripts(p_order_ids, 1) AS o WHERE v_placed[o] ORDER BY o;

    -- Titles and prices as they are now: the order keeps them whatever the listing later becomes.
    INSERT INTO order_items (order_id, book_id, title, count, price)
    SELECT p_order_ids[p_line_orders[j]], l.book_id, l.title, p_line_counts[j], l.price
      FROM generate_subscripts(p_line_books, 1) AS j
      JOIN listings l ON l.store_id = p_store_ids[p_line_orders[j]] AND l.book_id = p_line_books[j]
     WHERE v_placed[p_line_orders[j]];
  END IF;

  RETURN QUERY
    SELECT v_authed[o], v_buyer[o], v_store[o], v_missing[o], v_short[o],
           CASE WHEN v_total[o] <= p_max_total THEN v_total[o] END, v_placed[o]
      FROM generate_subscripts(p_order_ids, 1) AS o ORDER BY o;
END
$$;

-- Pays a batch: payment i is order p_order_ids[i] by buyer p_buyer_ids[i]; with p_stored_hashes[i],
-- only if that is still the buyer's password hash and the account is open. The orders are locked in
-- order-id order, then the buyers in user-id order (as a lone payment: order, then user). One row per
-- payment, in order: whether the buyer passed that check, and the total when the order was paid.
-- A payment is refused (total NULL) when its order is not the buyer's unpaid order within its
-- deadline (or was paid by an earlier payment of the batch), or the balance left by the payments
-- before it does not cover it.
CREATE FUNCTION pay_orders(p_order_ids text[], p_buyer_ids text[], p_stored_hashes text[])
RETURNS TABLE (verified boolean, total bigint)
LANGUAGE plpgsql
-- Rows found by primary key only, and no JIT, as in place_orders.
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off
AS $$
DECLARE
  n int := cardinality(p_order_ids);
  v_verified boolean[];
  -- Per payment: the order's total when payable by this buyer, and the buyer's index into v_balance.
  v_due bigint[];
  v_buyer int[];
  v_balance bigint[];
  v_paid boolean[] := array_fill(false, ARRAY[n]);
  v_taken text[] := '{}';
  v_writes int;
  v_expected int;
BEGIN
  WITH payable AS MATERIALIZED (
    SELECT order_id, buyer_id, total_price FROM orders
     WHERE order_id = ANY (p_order_ids) AND status = 'unpaid' AND expires_at > now()
     ORDER BY order_id FOR UPDATE
  ), payers AS MATERIALIZED (
    SELECT user_id, balance, password_hash, closed_at FROM users
     WHERE user_id = ANY (p_buyer_ids) ORDER BY user_id FOR NO KEY UPDATE
  ), numbered AS (
    SELECT *, row_number() OVER (ORDER BY user_id)::int AS k FROM payers
  )
  SELECT array_agg(coalesce(u.user_id IS NOT NULL
                             AND (p_stored_hashes[i] IS NULL OR (u.password_hash = p_stored_hashes[i] AND u.closed_at IS NULL)),
                            false) ORDER BY i),
         array_agg(p.total_price ORDER BY i),
         array_agg(u.k ORDER BY i),
         (SELECT array_agg(balance ORDER BY k) FROM numbered)
    INTO v_verified, v_due, v_buyer, v_balance
    FROM generate_subscripts(p_order_ids, 1) AS i
    LEFT JOIN numbered u ON u.user_id = p_buyer_ids[i]
    LEFT JOIN payable p ON p.order_id = p_order_ids[i] AND p.buyer_id = p_buyer_ids[i];

  -- One payment after another, against the balances the payments before it left.
  FOR v_p IN 1..n LOOP
    IF v_verified[v_p] AND v_due[v_p] IS NOT NULL AND NOT (p_order_ids[v_p] = ANY (v_taken))
       AND v_balance[v_buyer[v_p]] >= v_due[v_p] THEN
      v_paid[v_p] := true;
      v_taken := v_taken || p_order_ids[v_p];
      v_balance[v_buyer[v_p]] := v_balance[v_buyer[v_p]] - v_due[v_p];
    END IF;
  END LOOP;

  IF true = ANY (v_paid) THEN
    -- The debits (the guard repeats the check made above).
    UPDATE users SET balance = users.balance - t.amount
      FROM (SELECT p_buyer_ids[i] AS user_id, sum(v_due[i])::bigint AS amount
              FROM generate_subscripts(p_order_ids, 1) AS i WHERE v_paid[i] GROUP BY 1) t
     WHERE users.user_id = t.user_id AND users.balance >= t.amount;
    GET DIAGNOSTICS v_writes = ROW_COUNT;
    SELECT count(DISTINCT p_buyer_ids[i])::int INTO v_expected
      FROM generate_subscripts(p_order_ids, 1) AS i WHERE v_paid[i];
    PERFORM bookstore_assert(v_writes = v_expected, 'payment half done');

    UPDATE orders SET status = 'paid', paid_at = now()
     WHERE order_id = ANY (v_taken) AND status = 'unpaid';
    GET DIAGNOSTICS v_writes = ROW_COUNT;
    PERFORM bookstore_assert(v_writes = cardinality(v_taken), 'payment half done');

    INSERT INTO ledger (user_id, order_id, kind, amount)
    SELECT p_buyer_ids[i], p_order_ids[i], 'payment', -v_due[i]
      FROM generate_subscripts(p_order_ids, 1) AS i WHERE v_paid[i] ORDER BY i;
  END IF;

  RETURN QUERY
    SELECT v_verified[i], CASE WHEN v_paid[i] THEN v_due[i] END
      FROM generate_subscripts(p_order_ids, 1) AS i ORDER BY i;
END
$$;
