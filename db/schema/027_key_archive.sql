-- Key archival and recovery (issue 26): a private key the CA generated
-- for an end entity (central key generation) under a profile with
-- archive_keys is kept here, encrypted in the HSM under its CA's
-- archival key (hsm/hsm_archive.c; the key never leaves the token). The
-- AAD of the encryption is the CA label and the certificate's serial, so
-- a blob copied to another row does not open there.
CREATE TABLE key_archive (
	id bigserial PRIMARY KEY,
	cert_id bigint NOT NULL UNIQUE REFERENCES cert (id),
	ca_id bigint NOT NULL REFERENCES ca (id),
	key_label text NOT NULL,	-- the archival key's token label
	wrapped bytea NOT NULL,		-- 0x01 || IV || AES-GCM(PKCS#8) || tag
	created timestamptz NOT NULL DEFAULT now()
);

-- Recoveries: asked for by an operator, decided by an operator (the
-- approval step, as for pending requests), delivered once.
CREATE TABLE key_recovery (
	id bigserial PRIMARY KEY,
	archive_id bigint NOT NULL REFERENCES key_archive (id)
	    ON DELETE CASCADE,
	status text NOT NULL DEFAULT 'pending'
	    CHECK (status IN ('pending', 'approved', 'rejected', 'done')),
	requested_by text NOT NULL,
	decided_by text,
	decided_at timestamptz,
	done_at timestamptz,
	created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_recovery_status_idx ON key_recovery (status, created);

-- Every archival is audited, whoever inserts the row.
CREATE FUNCTION cmpca_key_archive_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO audit (event, ca_id, actor, detail)
	    SELECT 'key-archive', NEW.ca_id, session_user::text,
	    c.serial || ' under ' || NEW.key_label
	    FROM cert c WHERE c.id = NEW.cert_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER key_archive_insert AFTER INSERT ON key_archive
    FOR EACH ROW EXECUTE FUNCTION cmpca_key_archive_audit();

-- A certificate rejected (certConf rejecting it, or its transaction
-- expiring unconfirmed) takes its archived key with it, in the same
-- transaction, audited. SECURITY DEFINER: the daemon may not delete
-- archived keys itself.
CREATE FUNCTION cmpca_key_archive_destroy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
	WITH d AS (DELETE FROM key_archive WHERE cert_id = NEW.id
	    RETURNING ca_id)
	INSERT INTO audit (event, ca_id, actor, detail)
	    SELECT 'key-destroy', d.ca_id, session_user::text,
	    NEW.serial || ': certificate rejected' FROM d;
	RETURN NULL;
END
$$;
CREATE TRIGGER cert_rejected_key_destroy AFTER UPDATE OF status ON cert
    FOR EACH ROW WHEN (NEW.status = 'rejected' AND
	OLD.status IS DISTINCT FROM 'rejected')
    EXECUTE FUNCTION cmpca_key_archive_destroy();

-- Recovery through CMP (krr, cmpcad): the archived value of one
-- certificate, with its audit row (key-recover, the requester as actor),
-- in the caller's transaction. The daemon's role may not select the
-- column itself: every value it reads is audited. NULL when none.
CREATE FUNCTION cmpca_key_archive_fetch(p_cert bigint, p_actor text)
    RETURNS bytea
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	w bytea;
	c_ca bigint;
	c_serial text;
BEGIN
	SELECT k.wrapped, k.ca_id, c.serial INTO w, c_ca, c_serial
	    FROM key_archive k JOIN cert c ON c.id = k.cert_id
	    WHERE k.cert_id = p_cert;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO audit (event, ca_id, actor, detail)
	    VALUES ('key-recover', c_ca, p_actor, c_serial || ' by krr');
	RETURN w;
END
$$;

-- The grants: whatever cmpca_grants() gives now, then the archive's. The
-- daemon (and the reader) see every column of key_archive but the
-- wrapped key, and the daemon inserts rows: someone with the daemon's
-- database login gets a wrapped key only through
-- cmpca_key_archive_fetch(), audited, and never a clear one. The operator
-- (`cmpca key recover`) reads and manages both tables. Wrapped, not
-- copied (as 017, 018 and 021 do).
ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_027;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	cols text := (SELECT string_agg(quote_ident(attname), ', '
	    ORDER BY attnum) FROM pg_attribute
	    WHERE attrelid = 'key_archive'::regclass AND attnum > 0
	    AND NOT attisdropped AND attname <> 'wrapped');
BEGIN
	PERFORM cmpca_grants_before_027();
	REVOKE SELECT ON key_archive, key_recovery
	    FROM cmpca_daemon, cmpca_reader;
	EXECUTE format('GRANT SELECT (%s) ON key_archive TO cmpca_daemon, '
	    'cmpca_reader', cols);
	GRANT SELECT ON key_recovery TO cmpca_reader;
	GRANT INSERT ON key_archive TO cmpca_daemon, cmpca_operator;
	GRANT INSERT, UPDATE, DELETE ON key_recovery TO cmpca_operator;
	GRANT DELETE ON key_archive TO cmpca_operator;
	REVOKE ALL ON FUNCTION cmpca_key_archive_fetch(bigint, text)
	    FROM PUBLIC;
	GRANT EXECUTE ON FUNCTION cmpca_key_archive_fetch(bigint, text)
	    TO cmpca_daemon, cmpca_operator;
	REVOKE ALL ON FUNCTION cmpca_grants_before_027() FROM PUBLIC;
END
$$;
