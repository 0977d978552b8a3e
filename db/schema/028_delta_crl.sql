-- Delta CRLs (RFC 5280 §5.2.4). A delta is a row of crl like a complete
-- CRL, its number from the same sequence (§5.2.3: one monotonic sequence
-- for the complete and the delta CRLs of an issuer, db_crl_next), with
-- delta_of the number of the complete CRL it is relative to (its
-- deltaCRLIndicator). A complete CRL has delta_of NULL; every reader of
-- "the CA's newest CRL" asks for one of those (db_crl_latest), the
-- delta's readers for the other (db_crl_delta_latest).
-- No grant changes: the daemon and the operator insert rows of crl with
-- table grants (015/016) that cover the new column.
ALTER TABLE crl ADD COLUMN delta_of bigint;
ALTER TABLE crl ADD CONSTRAINT crl_delta_of_check
    CHECK (delta_of IS NULL OR (delta_of > 0 AND delta_of < number));
-- The newest complete CRL and the newest delta of a CA, each by index.
CREATE INDEX crl_kind_idx ON crl (ca_id, (delta_of IS NULL), number);
