-- Every index on orders costs an entry when an order is placed and another when it is paid (the
-- payment changes status, which the status indexes hold, so the update cannot be HOT). The history
-- without a status filter no longer has indexes of its own: it merges the party's per-status ranges
-- of orders_buyer_status / orders_store_status (five short index scans, each stopping after the
-- page), which keeps every page an index scan that stops early and saves two index entries per
-- order placed and two per order paid. The sweeps keep their partial indexes (one entry per order).
DROP INDEX orders_buyer;
DROP INDEX orders_store;
