-- Central key generation (RFC 9483 §4.1.6, issue 26): the CA makes the
-- key pair of an end entity in the HSM and returns the private key, in a
-- CMS envelope, with the certificate. The inventory says which
-- certificates certify such a key: a key the CA made is one the holder
-- did not (a key update, an audit, a recovery decision must know).
ALTER TABLE cert ADD COLUMN server_keygen boolean NOT NULL DEFAULT false;
CREATE INDEX cert_server_keygen_idx ON cert (ca_id) WHERE server_keygen;

-- The daemon marks the certificates it stored for such keys, in the
-- database transaction that stores them (cmpca_cert_store is unchanged):
-- it may set that column, nothing else more. Wrapped, not copied (as
-- 017, 018 and 021 do).
ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_022;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cmpca_grants_before_022();
	GRANT UPDATE (server_keygen) ON cert TO cmpca_daemon, cmpca_operator;
	REVOKE ALL ON FUNCTION cmpca_grants_before_022() FROM PUBLIC;
END
$$;
