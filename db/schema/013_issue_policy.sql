-- Names bound to an enrollment secret (issue 13): besides the subject
-- (allowed_subject), the subjectAltName values a request authenticated
-- by the secret may carry, as patterns ("DNS:*.dev.example.com,
-- email:*@example.com, IP:10.0.0.1, URI:https://example.com/*"). NULL:
-- none listed; a secret bound to a subject then gives no subjectAltName,
-- a secret bound to nothing any (within the profile's types).
ALTER TABLE enroll_secret ADD COLUMN allowed_san text;

-- One way to store an issued certificate (issue 13), and only under the
-- CA certificate the worker signed with (issue 14, item 4).
--
-- cmpca_cert_store inserts one certificate with its 'issue' audit row
-- and, when it is valid and p_supersede is set, revokes what it replaces
-- (superseded). It first checks p_ca_cert_sha256, the SHA-256 of the DER
-- of the CA certificate the worker signed with: for up to
-- CA_STORE_REFRESH seconds after a rollover (or import-cert) a worker may
-- still hold the old one, and a certificate signed with the old key must
-- not be stored under the new identity, where its revocation would go to
-- the wrong CRL and OCSP answers. It refuses with CA006 then (and with
-- CA004 on a serial collision). A plain read, no row lock: every issuance
-- locking the one CA row would make PostgreSQL write a MultiXact into it
-- each time; what remains is a rollover committing during the statement.
--
-- cmpca_issue1 (one certificate, one round trip) calls it after claiming
-- the nonce, recording the transaction and consuming the secret's use;
-- the paths that store several certificates or a delayed request's call
-- it inside their explicit transaction (db_cert_store).
CREATE FUNCTION cmpca_cert_store(p_ca bigint, p_ca_cert_sha256 bytea,
    p_actor text, p_serial text, p_subject text, p_issuer text,
    p_spki bytea, p_not_before bigint, p_not_after bigint, p_status text,
    p_der bytea, p_profile text, p_requester text, p_txid bytea,
    p_cert_req_id int, p_replaces bigint, p_supersede boolean)
    RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	cid bigint;
BEGIN
	PERFORM 1 FROM ca WHERE id = p_ca AND status = 'active'
	    AND sha256(cert) = p_ca_cert_sha256;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'CA certificate changed' USING ERRCODE = 'CA006';
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
	    VALUES ('issue', p_ca, p_actor, p_serial);
	IF p_supersede AND p_replaces IS NOT NULL AND p_status = 'valid' THEN
		UPDATE cert SET status = 'revoked', revoked_at = now(), reason = 4
		    WHERE id = p_replaces AND status = 'valid';
		IF FOUND THEN
			INSERT INTO audit (event, ca_id, actor, detail) VALUES
			    ('revoke', p_ca, p_actor, 'superseded by key update');
		END IF;
	END IF;
	RETURN cid;
END
$$;

-- cmpca_issue1 gains p_ca_cert_sha256 and stores through
-- cmpca_cert_store.
DROP FUNCTION IF EXISTS cmpca_issue1(bytea, bigint, text, text, text, bytea,
    int, bigint, bytea, text, text, text, text, bytea, bigint, bigint, text,
    bytea, text, text, int, bigint, boolean, text);
CREATE FUNCTION cmpca_issue1(p_txid bytea, p_ca bigint, p_sender text,
    p_kind text, p_state text, p_last_nonce bytea, p_pvno int,
    p_expires bigint, p_nonce bytea, p_secret text, p_serial text,
    p_subject text, p_issuer text, p_spki bytea, p_not_before bigint,
    p_not_after bigint, p_status text, p_der bytea, p_profile text,
    p_requester text, p_cert_req_id int, p_replaces bigint,
    p_supersede boolean, p_secret_version text, p_ca_cert_sha256 bytea)
    RETURNS bigint
LANGUAGE plpgsql AS $$
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
	RETURN cmpca_cert_store(p_ca, p_ca_cert_sha256, p_sender, p_serial,
	    p_subject, p_issuer, p_spki, p_not_before, p_not_after, p_status,
	    p_der, p_profile, p_requester, p_txid, p_cert_req_id, p_replaces,
	    p_supersede);
END
$$;
