-- Issuance without a serialising row lock, and fewer index entries per
-- certificate (issue 6).
--
-- An unlimited enrollment secret (uses_left = -1) is only read, not
-- updated: 006 rewrote its row on every issuance, so every transaction
-- authenticated by the same secret waited for the previous one's commit
-- (the row lock is held to the end) and left a dead tuple behind. A
-- limited secret is still decremented under its row lock, as it must be.
--
-- No index mentions cert.status any more, so that the certConf update
-- (unconfirmed -> valid) can be a heap-only tuple update: no new entry in
-- any of the table's indexes, when the row's page has room (fillfactor 90
-- keeps some). cert_status_idx indexed every certificate by a status that
-- is 'valid' for nearly all of them, and no query used it;
-- cert_revoked_idx (revoked only) gives way to an index over the rows
-- with a revocation time, which revoked and rejected certificates have
-- and no other: the CRL lists both (db_crl.c).

DROP INDEX IF EXISTS cert_status_idx;
DROP INDEX IF EXISTS cert_revoked_idx;
CREATE INDEX cert_revoked_at_idx ON cert (ca_id) WHERE revoked_at IS NOT NULL;
ALTER TABLE cert SET (fillfactor = 90);

-- Two more indexes on cert that no query used: lower(subject) (searches
-- by subject are substring matches, which a btree cannot serve) and
-- spki_sha256. Each cost an index entry per certificate at a random
-- place. A feature that looks certificates up by key adds its index.
DROP INDEX IF EXISTS cert_subject_idx;
DROP INDEX IF EXISTS cert_spki_idx;

-- Transactions are looked up by state only while they are open (the
-- housekeeper's expiry, the pending gauges); a finished one (all of
-- implicitConfirm's) needs no entry.
DROP INDEX IF EXISTS cmp_txn_state_idx;
CREATE INDEX cmp_txn_open_idx ON cmp_txn (state, expires)
    WHERE state IN ('wait_conf', 'waiting');

-- cmpca_issue1 gains p_secret_version: a worker may take an unlimited
-- secret from its cache instead of reading the row first, and passes the
-- row version (xmin) it saw; a row changed since (removed, replaced,
-- resealed) refuses like a used-up secret, and the worker reads it again.
DROP FUNCTION IF EXISTS cmpca_issue1(bytea, bigint, text, text, text, bytea,
    int, bigint, bytea, text, text, text, text, bytea, bigint, bigint, text,
    bytea, text, text, int, bigint, boolean);
CREATE FUNCTION cmpca_issue1(p_txid bytea, p_ca bigint, p_sender text,
    p_kind text, p_state text, p_last_nonce bytea, p_pvno int,
    p_expires bigint, p_nonce bytea, p_secret text, p_serial text,
    p_subject text, p_issuer text, p_spki bytea, p_not_before bigint,
    p_not_after bigint, p_status text, p_der bytea, p_profile text,
    p_requester text, p_cert_req_id int, p_replaces bigint,
    p_supersede boolean, p_secret_version text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	cid bigint;
BEGIN
	INSERT INTO seen_nonce (nonce) VALUES (p_nonce)
	    ON CONFLICT (nonce) DO NOTHING;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'replayed senderNonce' USING ERRCODE = 'CA001';
	END IF;
	INSERT INTO cmp_txn (id, ca_id, sender, kind, state, last_nonce, pvno,
	    expires, updated)
	    VALUES (p_txid, p_ca, p_sender, p_kind, p_state, p_last_nonce,
	    p_pvno, to_timestamp(p_expires), now())
	    ON CONFLICT (id) DO NOTHING;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'transactionID in use' USING ERRCODE = 'CA002';
	END IF;
	IF p_secret IS NOT NULL THEN
		UPDATE enroll_secret SET uses_left = uses_left - 1
		    WHERE ref = p_secret AND uses_left > 0
		    AND (expires IS NULL OR expires > now());
		IF NOT FOUND THEN
			PERFORM 1 FROM enroll_secret WHERE ref = p_secret
			    AND uses_left = -1
			    AND (expires IS NULL OR expires > now())
			    AND (p_secret_version IS NULL OR
				xmin::text = p_secret_version);
		END IF;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'enrollment secret used up'
			    USING ERRCODE = 'CA003';
		END IF;
	END IF;
	INSERT INTO cert (ca_id, serial, subject, issuer, spki_sha256,
	    not_before, not_after, status, der, profile, requester, txid,
	    cert_req_id, replaces)
	    VALUES (p_ca, p_serial, p_subject, p_issuer, p_spki,
	    to_timestamp(p_not_before), to_timestamp(p_not_after), p_status,
	    p_der, p_profile, p_requester, p_txid, p_cert_req_id, p_replaces)
	    ON CONFLICT (ca_id, serial) DO NOTHING RETURNING id INTO cid;
	IF cid IS NULL THEN
		RAISE EXCEPTION 'serial number collision' USING ERRCODE = 'CA004';
	END IF;
	INSERT INTO audit (event, ca_id, actor, detail)
	    VALUES ('issue', p_ca, p_sender, p_serial);
	IF p_supersede AND p_replaces IS NOT NULL AND p_status = 'valid' THEN
		UPDATE cert SET status = 'revoked', revoked_at = now(), reason = 4
		    WHERE id = p_replaces AND status = 'valid';
		IF FOUND THEN
			INSERT INTO audit (event, ca_id, actor, detail) VALUES
			    ('revoke', p_ca, p_sender, 'superseded by key update');
		END IF;
	END IF;
	RETURN cid;
END
$$;
