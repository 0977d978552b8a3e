-- Housekeeping: replay nonces are pruned by age, expired transactions are
-- found by (state, expires) (index from 001).
CREATE INDEX seen_nonce_seen_at ON seen_nonce (seen_at);
