-- One round trip per message for the two hot paths (RFC 9810 issuance and
-- confirmation). Each function runs as one statement: any failure rolls
-- back all of it. Refusals raise these SQLSTATEs, mapped by db_issue.c:
--   CA001 replayed senderNonce      CA002 transactionID in use
--   CA003 enrollment secret used up  CA004 serial number collision
--   CA005 transaction not in the expected state

CREATE FUNCTION cmpca_issue1(p_txid bytea, p_ca bigint, p_sender text,
    p_kind text, p_state text, p_last_nonce bytea, p_pvno int,
    p_expires bigint, p_nonce bytea, p_secret text, p_serial text,
    p_subject text, p_issuer text, p_spki bytea, p_not_before bigint,
    p_not_after bigint, p_status text, p_der bytea, p_profile text,
    p_requester text, p_cert_req_id int, p_replaces bigint,
    p_supersede boolean) RETURNS bigint
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
		UPDATE enroll_secret SET uses_left =
		    CASE WHEN uses_left = -1 THEN -1 ELSE uses_left - 1 END
		    WHERE ref = p_secret AND uses_left <> 0
		    AND (expires IS NULL OR expires > now());
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

CREATE FUNCTION cmpca_finish(p_txid bytea, p_nonce bytea, p_from text,
    p_to text, p_last_nonce bytea, p_accept bigint[], p_reject bigint[],
    p_reason int, p_supersede bigint[], p_actor text, p_ca bigint)
    RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO seen_nonce (nonce) VALUES (p_nonce)
	    ON CONFLICT (nonce) DO NOTHING;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'replayed senderNonce' USING ERRCODE = 'CA001';
	END IF;
	UPDATE cmp_txn SET state = p_to, last_nonce = p_last_nonce,
	    updated = now(),
	    expires = CASE WHEN p_to = 'wait_conf' AND p_from <> 'wait_conf'
	    THEN now() + (expires - created) ELSE expires END
	    WHERE id = p_txid AND state = p_from;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'transaction not in state %', p_from
		    USING ERRCODE = 'CA005';
	END IF;
	WITH c AS (UPDATE cert SET status = 'valid', revoked_at = NULL,
	    reason = NULL WHERE id = ANY (p_accept) AND status = 'unconfirmed'
	    RETURNING serial)
	INSERT INTO audit (event, ca_id, actor, detail)
	    SELECT 'confirm', p_ca, p_actor, serial FROM c;
	WITH c AS (UPDATE cert SET status = 'rejected', revoked_at = now(),
	    reason = p_reason WHERE id = ANY (p_reject)
	    AND status = 'unconfirmed' RETURNING serial)
	INSERT INTO audit (event, ca_id, actor, detail)
	    SELECT 'reject', p_ca, p_actor, serial FROM c;
	WITH c AS (UPDATE cert SET status = 'revoked', revoked_at = now(),
	    reason = 4 WHERE id = ANY (p_supersede) AND status = 'valid'
	    RETURNING serial)
	INSERT INTO audit (event, ca_id, actor, detail)
	    SELECT 'revoke', p_ca, p_actor, 'superseded by key update: ' || serial
	    FROM c;
	RETURN 1;
END
$$;
