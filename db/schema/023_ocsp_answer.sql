-- OCSP answers produced ahead of time (issue 23; RFC 5019 §2.1.1 and
-- RFC 6960 §2.4: a responder may pre-produce its responses).
--
-- One row per certificate of a CA key (ca_id: the identity's current key
-- or an earlier key LABEL.oldN), serial and CertID hash algorithm (md):
-- the whole OCSPResponse, signed for one single request without nonce,
-- the status it signs (good/revoked/unknown, reason and time, so that a
-- worker compares it with the certificate's status before serving it),
-- the signer that signed it (ocsp_signer.id; 0: the CA key itself) and
-- its thisUpdate/nextUpdate. Every worker on every host serves the same
-- bytes; the housekeeper (re)produces rows that are stale, missing, or
-- within ocsp_refresh seconds of their nextUpdate, and a worker that
-- finds none signs once and stores its answer.
CREATE TABLE ocsp_answer (
	ca_id bigint NOT NULL REFERENCES ca (id),
	serial text NOT NULL,
	md text NOT NULL CHECK (md IN ('sha1', 'sha256', 'sha384', 'sha512')),
	status text NOT NULL CHECK (status IN ('good', 'revoked', 'unknown')),
	reason int,			-- CRLReason signed, NULL if none
	revoked_at timestamptz,		-- revocationTime signed
	signer_id bigint NOT NULL,
	this_update timestamptz NOT NULL,
	next_update timestamptz NOT NULL,
	stale boolean NOT NULL DEFAULT false,
	der bytea NOT NULL,
	PRIMARY KEY (ca_id, serial, md)
);
-- The housekeeper's refresh: what nears its nextUpdate, what is stale.
CREATE INDEX ocsp_answer_next_idx ON ocsp_answer (next_update);
CREATE INDEX ocsp_answer_stale_idx ON ocsp_answer (ca_id) WHERE stale;

-- A status change (revocation, hold, release, rejection, confirmation)
-- makes the certificate's answers stale at once, in the same transaction,
-- whichever role or function made it; a certificate moved to another key
-- row (`ca rollover`) loses them (the CertIDs of the old key's row are
-- answered under that row).
CREATE FUNCTION cmpca_ocsp_stale() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.ca_id IS DISTINCT FROM NEW.ca_id THEN
		DELETE FROM ocsp_answer
		    WHERE ca_id = OLD.ca_id AND serial = OLD.serial;
	ELSE
		UPDATE ocsp_answer SET stale = true
		    WHERE ca_id = OLD.ca_id AND serial = OLD.serial
		    AND NOT stale;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER cert_ocsp_stale AFTER UPDATE OF status, reason, revoked_at,
    ca_id ON cert FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
	OR OLD.reason IS DISTINCT FROM NEW.reason
	OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
	OR OLD.ca_id IS DISTINCT FROM NEW.ca_id)
    EXECUTE FUNCTION cmpca_ocsp_stale();

-- A new delegated signer (`cmpca ocsp signer`, `ca rollover`): the CA's
-- answers are signed again by it (the old signer may be retired).
CREATE FUNCTION cmpca_ocsp_signer_stale() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE ocsp_answer SET stale = true
	    WHERE ca_id = NEW.ca_id AND NOT stale;
	RETURN NULL;
END
$$;

CREATE TRIGGER ocsp_signer_stale AFTER INSERT ON ocsp_signer
    FOR EACH ROW EXECUTE FUNCTION cmpca_ocsp_signer_stale();

-- The grants: whatever cmpca_grants() gives now (015 and the migrations
-- after it), then ocsp_answer's: the daemon writes it (workers store an
-- answer signed on a miss, the housekeeper produces and prunes), the
-- operator's status changes and signers mark rows stale (the triggers run
-- as the role that changed the row). The reader reads it (015's SELECT ON
-- ALL TABLES). Wrapped, not copied (as 017, 018 and 021 do).
ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_023;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cmpca_grants_before_023();
	GRANT INSERT, UPDATE, DELETE ON ocsp_answer
	    TO cmpca_daemon, cmpca_operator;
	REVOKE ALL ON FUNCTION cmpca_grants_before_023() FROM PUBLIC;
	REVOKE ALL ON FUNCTION cmpca_ocsp_stale() FROM PUBLIC;
	REVOKE ALL ON FUNCTION cmpca_ocsp_signer_stale() FROM PUBLIC;
END
$$;
