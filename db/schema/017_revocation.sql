-- Revocation status at once (issue 23): a status change that a CRL must
-- show marks its CA in crl_due; the housekeeper issues the CA's next CRL
-- within crl_delay seconds of the first unpublished change (at once for
-- keyCompromise, cACompromise and aACompromise), and crl_issue() takes the
-- mark in a statement of its own just before the CRL's transaction reads
-- the entries (a failed CRL puts it back).
--
-- A change that commits while a CRL is built either is read by it (it
-- committed before the entries are read: the DELETE that took the mark
-- waited for its row lock) or leaves a new mark for the next CRL; no
-- revocation waits on the mark's row lock while a CRL is signed.

CREATE TABLE crl_due (
	ca_id bigint PRIMARY KEY REFERENCES ca (id),
	since timestamptz NOT NULL DEFAULT clock_timestamp(),
	urgent boolean NOT NULL DEFAULT false
);

-- Into or out of a CRL: revoked or rejected on either side, or a reason
-- that changed (a hold made permanent).
CREATE FUNCTION cmpca_crl_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO crl_due (ca_id, urgent)
	    VALUES (NEW.ca_id, coalesce(NEW.reason IN (1, 2, 10), false)
		AND NEW.status = 'revoked')
	    ON CONFLICT (ca_id) DO UPDATE
	    SET urgent = crl_due.urgent OR EXCLUDED.urgent;
	RETURN NULL;
END
$$;

CREATE TRIGGER cert_crl_mark AFTER UPDATE OF status, reason ON cert
    FOR EACH ROW
    WHEN ((OLD.status IN ('revoked', 'rejected')
	OR NEW.status IN ('revoked', 'rejected'))
	AND (OLD.status IS DISTINCT FROM NEW.status
	OR OLD.reason IS DISTINCT FROM NEW.reason))
    EXECUTE FUNCTION cmpca_crl_mark();

-- The grants: whatever cmpca_grants() gives now (015 and the migrations
-- after it), then crl_due's. Wrapped, not copied, so that a grant a
-- migration before this one added is kept.
ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_017;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cmpca_grants_before_017();
	-- The daemon and the operator mark (the trigger runs as them) and
	-- take marks (crl_issue).
	GRANT INSERT, UPDATE, DELETE ON crl_due
	    TO cmpca_daemon, cmpca_operator;
	REVOKE ALL ON FUNCTION cmpca_grants_before_017() FROM PUBLIC;
	REVOKE ALL ON FUNCTION cmpca_crl_mark() FROM PUBLIC;
END
$$;
