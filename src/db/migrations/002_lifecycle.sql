-- Order lifecycle: indexes for order history with a status filter, and for the auto-receive sweep.
-- (The buyer and store history without a filter use orders_buyer / orders_store from 001; the
-- expiry sweep uses orders_unpaid_expiry.)

-- A buyer's orders in one status, newest first.
CREATE INDEX orders_buyer_status ON orders (buyer_id, status, created_at DESC, order_id);

-- A store's orders in one status, newest first (a seller's list merges its stores' lists).
CREATE INDEX orders_store_status ON orders (store_id, status, created_at DESC, order_id);

-- Shipped orders by shipping time: the auto-receive sweep takes the oldest first.
CREATE INDEX orders_shipped_auto_receive ON orders (shipped_at) WHERE status = 'shipped';
