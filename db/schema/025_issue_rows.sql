-- Fewer rows and WAL records per issuance (issue 29).
--
-- 1. One record for a transaction that ends in its first message
--    (implicitConfirm: cmpca_cert_store with p_txn 'new' and p_state
--    'done'). Its senderNonce is kept in its own cmp_txn row (req_nonce,
--    a unique index over the rows that have one) instead of a seen_nonce
--    row of its own: one row and one index entry less per irimp
--    (seen_nonce had two: its key and seen_at). A transaction that goes
--    on (certConf, polling) still claims its nonce in seen_nonce, where
--    cmpca_finish claims the nonces of the messages that follow. A nonce
--    is refused (CA001) when it is in either place, whichever message
--    brings it: the place it goes to by its unique index, the other one
--    by a read (cmpca_finish below and db_nonce_claim do the same).
--    A nonce is kept as long as its row: seen_nonce's by nonce_retention,
--    cmp_txn's (a finished transaction) by txn_retention.
-- 2. Plain INSERTs where 014-021 used INSERT ... ON CONFLICT DO NOTHING
--    and raised CA001/CA002/CA004 when nothing was inserted: a
--    speculative insertion writes one more WAL record (its confirmation)
--    and checks the unique index twice, three times per issuance. A
--    conflict now raises unique_violation (23505); db_issue.c maps its
--    constraint (seen_nonce_pkey, cmp_txn_req_nonce_key: CA001;
--    cmp_txn_pkey: CA002; cert_ca_id_serial_key: CA004) to the same
--    refusals, and the whole statement rolls back as before.
--
-- Everything else of 021's function is unchanged: every check stays, in
-- the same order. No grant changes (the daemon inserts whole cmp_txn
-- rows; the reader reads every column of it).

ALTER TABLE cmp_txn ADD COLUMN req_nonce bytea;
CREATE UNIQUE INDEX cmp_txn_req_nonce_key ON cmp_txn (req_nonce)
    WHERE req_nonce IS NOT NULL;

-- cmpca_cert_store (021) with 1 and 2 above.
CREATE OR REPLACE FUNCTION cmpca_cert_store(p_txn text, p_txid bytea, p_ca bigint,
    p_ca_cert_sha256 bytea, p_actor text, p_nonce bytea, p_sender text,
    p_kind text, p_from text, p_state text, p_last_nonce bytea, p_pvno int,
    p_expires bigint, p_secret text, p_secret_version text,
    p_serial text[], p_subject text[], p_issuer text[], p_spki bytea[],
    p_not_before bigint[], p_not_after bigint[], p_status text[],
    p_der bytea[], p_profile text[], p_requester text[],
    p_cert_req_id int[], p_replaces bigint[], p_supersede boolean[],
    p_cert_kind text[], p_secret_uses int, p_credential text,
    p_obtained_with bigint, p_path_ca bigint[], p_path_cert bigint[])
    RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	n int := coalesce(cardinality(p_serial), 0);
	i int;
	cid bigint;
	uses int := greatest(coalesce(p_secret_uses, 1), 1);
	st text;
BEGIN
	IF p_txn = 'new' THEN
		-- A transaction that ends in this message (implicitConfirm,
		-- state 'done') keeps its senderNonce in its own row; one
		-- that goes on claims it in seen_nonce. Either way the nonce
		-- must be in neither place yet (a read of the other one).
		IF p_state = 'done' THEN
			PERFORM 1 FROM seen_nonce WHERE nonce = p_nonce;
		ELSE
			PERFORM 1 FROM cmp_txn WHERE req_nonce = p_nonce;
		END IF;
		IF FOUND THEN
			RAISE EXCEPTION 'replayed senderNonce'
			    USING ERRCODE = 'CA001';
		END IF;
		IF p_state <> 'done' THEN
			INSERT INTO seen_nonce (nonce) VALUES (p_nonce);
		END IF;
		INSERT INTO cmp_txn (id, ca_id, sender, kind, state, last_nonce,
		    pvno, expires, updated, req_nonce)
		    VALUES (p_txid, p_ca, p_sender, p_kind, p_state,
		    p_last_nonce, p_pvno, to_timestamp(p_expires), now(),
		    CASE WHEN p_state = 'done' THEN p_nonce END);
		IF p_secret IS NOT NULL THEN
			UPDATE enroll_secret SET uses_left = uses_left - uses
			    WHERE ref = p_secret AND uses_left >= uses
			    AND uses_left > 0 AND NOT disabled
			    AND (expires IS NULL OR expires > now());
			IF NOT FOUND THEN
				PERFORM 1 FROM enroll_secret
				    WHERE ref = p_secret AND uses_left = -1
				    AND NOT disabled
				    AND (expires IS NULL OR expires > now())
				    AND (p_secret_version IS NULL OR
					xmin::text = p_secret_version);
			END IF;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'enrollment secret used up'
				    USING ERRCODE = 'CA003';
			END IF;
		END IF;
	ELSIF p_txn = 'move' THEN
		PERFORM cmpca_finish(p_txid, p_nonce, p_from, p_state,
		    p_last_nonce, '{}'::bigint[], '{}'::bigint[], 0,
		    '{}'::bigint[], p_actor, p_ca);
	ELSIF p_txn IS DISTINCT FROM 'none' THEN
		RAISE EXCEPTION 'cmpca_cert_store: p_txn must be new, move or none'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- The protection path, whatever the worker's trust cache says: every
	-- CA row whose key signed a certificate of it is active, or an
	-- earlier key of an active identity (after a rollover); every
	-- certificate of it we issued is valid.
	PERFORM 1 FROM unnest(p_path_ca) AS k(id)
	    WHERE NOT EXISTS (SELECT 1 FROM ca c WHERE c.id = k.id
		AND (c.status = 'active' OR (c.key_of IS NOT NULL AND
		    EXISTS (SELECT 1 FROM ca o WHERE o.id = c.key_of
			AND o.status = 'active'))));
	IF FOUND THEN
		RAISE EXCEPTION 'a CA of the protection path is retired'
		    USING ERRCODE = 'CA007';
	END IF;
	PERFORM 1 FROM unnest(p_path_cert) AS k(id)
	    WHERE NOT EXISTS (SELECT 1 FROM cert c WHERE c.id = k.id
		AND c.status = 'valid');
	IF FOUND THEN
		RAISE EXCEPTION 'a certificate of the protection path is revoked'
		    USING ERRCODE = 'CA008';
	END IF;

	IF n = 0 THEN
		RETURN;
	END IF;
	IF array_ndims(p_serial) <> 1 OR array_lower(p_serial, 1) <> 1 OR
	    cardinality(p_subject) <> n OR cardinality(p_issuer) <> n OR
	    cardinality(p_spki) <> n OR cardinality(p_not_before) <> n OR
	    cardinality(p_not_after) <> n OR cardinality(p_status) <> n OR
	    cardinality(p_der) <> n OR cardinality(p_profile) <> n OR
	    cardinality(p_requester) <> n OR cardinality(p_cert_req_id) <> n OR
	    cardinality(p_replaces) <> n OR cardinality(p_supersede) <> n OR
	    cardinality(p_cert_kind) <> n THEN
		RAISE EXCEPTION 'cmpca_cert_store: the certificate arrays differ '
		    'in length' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT status INTO st FROM ca WHERE id = p_ca
	    AND status IN ('active', 'upstream')
	    AND sha256(cert) = p_ca_cert_sha256;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'CA certificate changed' USING ERRCODE = 'CA006';
	END IF;
	FOR i IN 1 .. n LOOP
		INSERT INTO cert (ca_id, serial, subject, issuer, spki_sha256,
		    not_before, not_after, status, der, profile, requester,
		    txid, cert_req_id, replaces, kind, credential,
		    obtained_with)
		    VALUES (p_ca, p_serial[i], p_subject[i], p_issuer[i],
		    p_spki[i], to_timestamp(p_not_before[i]),
		    to_timestamp(p_not_after[i]), p_status[i], p_der[i],
		    p_profile[i], p_requester[i], p_txid, p_cert_req_id[i],
		    p_replaces[i], coalesce(p_cert_kind[i], 'ee'),
		    p_credential, p_obtained_with)
		    RETURNING id INTO cid;
		INSERT INTO audit (event, ca_id, actor, detail)
		    VALUES (CASE WHEN p_cert_kind[i] = 'cross'
		    THEN 'cross-certify' WHEN st = 'upstream'
		    THEN 'issue-upstream' ELSE 'issue' END, p_ca, p_actor,
		    p_serial[i]);
		IF p_supersede[i] AND p_replaces[i] IS NOT NULL AND
		    p_status[i] = 'valid' THEN
			UPDATE cert SET status = 'revoked', revoked_at = now(),
			    reason = 4
			    WHERE id = p_replaces[i] AND status = 'valid';
			IF FOUND THEN
				INSERT INTO audit (event, ca_id, actor, detail)
				    VALUES ('revoke', p_ca, p_actor,
				    'superseded by key update');
			END IF;
		END IF;
		RETURN NEXT cid;
	END LOOP;
END
$$;

-- cmpca_finish (006) claims a nonce only when no cmp_txn row keeps it.
CREATE OR REPLACE FUNCTION cmpca_finish(p_txid bytea, p_nonce bytea, p_from text,
    p_to text, p_last_nonce bytea, p_accept bigint[], p_reject bigint[],
    p_reason int, p_supersede bigint[], p_actor text, p_ca bigint)
    RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO seen_nonce (nonce) SELECT p_nonce
	    WHERE NOT EXISTS (SELECT 1 FROM cmp_txn WHERE req_nonce = p_nonce)
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
