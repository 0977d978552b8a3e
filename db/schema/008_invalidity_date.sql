-- The invalidityDate a revocation request gave (RFC 5280 §5.3.2), listed
-- in CRL entries.
ALTER TABLE cert ADD COLUMN invalidity_date timestamptz;
