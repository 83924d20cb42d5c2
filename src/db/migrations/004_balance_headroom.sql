-- Deposits stop at a balance of 10^15 cents (add_funds checks it), but a seller's balance must be
-- able to grow past that by receiving payments: refusing to release money held for an order is not
-- an option. The lower bound stays; bigint itself is the upper one (numbers stay exact in
-- JavaScript up to 2^53 ≈ 9·10^15).
ALTER TABLE users DROP CONSTRAINT users_balance_check;
ALTER TABLE users ADD CONSTRAINT users_balance_check CHECK (balance >= 0);
