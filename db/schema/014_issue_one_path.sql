-- One issuance path in the database (issue 13): every certificate a CMP
-- response carries is stored by one function, cmpca_cert_store, which
-- takes the certificates of one response as arrays (one element per
-- certificate), and with them what happens to the CMP transaction:
--
--   p_txn 'new'   the first answer (ir/cr/kur/p10cr, one certificate or
--                 several): claims the request's senderNonce, records the
--                 transaction in state p_state and consumes one use of
--                 the enrollment secret p_secret (unless NULL).
--   p_txn 'move'  delayed delivery's final answer: claims the nonce and
--                 moves the transaction from p_from to p_state, through
--                 cmpca_finish (so the state check is the one certConf
--                 and pollReq go through).
--   p_txn 'none'  the caller's own transaction did that (db_cert_store).
--
-- Then, when there are certificates, each is inserted (p_cert_kind: 'ee'
-- when NULL, 'cross' for a ccr's cross certificate) with its audit row
-- ('issue', or 'cross-certify' for a cross certificate) and, when it is
-- valid and its p_supersede element is set, revokes what it replaces
-- (superseded). Returns the new certificates' ids in array order. It
-- replaces cmpca_issue1 (006, 012, 013: one certificate), the 17-argument
-- cmpca_cert_store (013: one certificate inside the caller's
-- transaction), which stored the same rows in two places (both are
-- dropped), and the ccr's own INSERT.
--
-- What 012 and 013 guarantee under concurrency still holds, each in one
-- place:
-- - The CA certificate: the certificates are stored only while CA p_ca is
--   active and holds the certificate whose SHA-256 is p_ca_cert_sha256
--   (the one the worker signed with): refused with CA006 otherwise. A
--   plain read, no row lock on the CA row (013 says why).
-- - The enrollment secret: a limited one is decremented under its row
--   lock (uses_left > 0, not expired); an unlimited one (-1) is only read,
--   and refused when its row version (xmin) is not p_secret_version, the
--   version the worker's cache saw (012). CA003 for both.
-- - The nonce (CA001, unique index), the transactionID (CA002, primary
--   key), the move from the expected state (CA005, under the
--   transaction's row lock, in cmpca_finish) and serial collisions
--   (CA004, unique index).
-- Any refusal raises, so the whole statement (or the caller's
-- transaction) rolls back: nothing of a refused response is stored.
--
-- cmpca_grants() (015) grants EXECUTE on functions by name; the name
-- cmpca_cert_store is kept so that it covers this one whether 015 ran
-- before or after this migration.

DROP FUNCTION IF EXISTS cmpca_issue1(bytea, bigint, text, text, text, bytea,
    int, bigint, bytea, text, text, text, text, bytea, bigint, bigint, text,
    bytea, text, text, int, bigint, boolean, text, bytea);
DROP FUNCTION IF EXISTS cmpca_cert_store(bigint, bytea, text, text, text,
    text, bytea, bigint, bigint, text, bytea, text, text, bytea, int, bigint,
    boolean);

CREATE FUNCTION cmpca_cert_store(p_txn text, p_txid bytea, p_ca bigint,
    p_ca_cert_sha256 bytea, p_actor text, p_nonce bytea, p_sender text,
    p_kind text, p_from text, p_state text, p_last_nonce bytea, p_pvno int,
    p_expires bigint, p_secret text, p_secret_version text,
    p_serial text[], p_subject text[], p_issuer text[], p_spki bytea[],
    p_not_before bigint[], p_not_after bigint[], p_status text[],
    p_der bytea[], p_profile text[], p_requester text[],
    p_cert_req_id int[], p_replaces bigint[], p_supersede boolean[],
    p_cert_kind text[])
    RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	n int := coalesce(cardinality(p_serial), 0);
	i int;
	cid bigint;
BEGIN
	IF p_txn = 'new' THEN
		INSERT INTO seen_nonce (nonce) VALUES (p_nonce)
		    ON CONFLICT (nonce) DO NOTHING;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'replayed senderNonce'
			    USING ERRCODE = 'CA001';
		END IF;
		INSERT INTO cmp_txn (id, ca_id, sender, kind, state, last_nonce,
		    pvno, expires, updated)
		    VALUES (p_txid, p_ca, p_sender, p_kind, p_state,
		    p_last_nonce, p_pvno, to_timestamp(p_expires), now())
		    ON CONFLICT (id) DO NOTHING;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'transactionID in use'
			    USING ERRCODE = 'CA002';
		END IF;
		IF p_secret IS NOT NULL THEN
			UPDATE enroll_secret SET uses_left = uses_left - 1
			    WHERE ref = p_secret AND uses_left > 0
			    AND (expires IS NULL OR expires > now());
			IF NOT FOUND THEN
				PERFORM 1 FROM enroll_secret
				    WHERE ref = p_secret AND uses_left = -1
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
	PERFORM 1 FROM ca WHERE id = p_ca AND status = 'active'
	    AND sha256(cert) = p_ca_cert_sha256;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'CA certificate changed' USING ERRCODE = 'CA006';
	END IF;
	FOR i IN 1 .. n LOOP
		INSERT INTO cert (ca_id, serial, subject, issuer, spki_sha256,
		    not_before, not_after, status, der, profile, requester,
		    txid, cert_req_id, replaces, kind)
		    VALUES (p_ca, p_serial[i], p_subject[i], p_issuer[i],
		    p_spki[i], to_timestamp(p_not_before[i]),
		    to_timestamp(p_not_after[i]), p_status[i], p_der[i],
		    p_profile[i], p_requester[i], p_txid, p_cert_req_id[i],
		    p_replaces[i], coalesce(p_cert_kind[i], 'ee'))
		    ON CONFLICT (ca_id, serial) DO NOTHING RETURNING id INTO cid;
		IF cid IS NULL THEN
			RAISE EXCEPTION 'serial number collision'
			    USING ERRCODE = 'CA004';
		END IF;
		INSERT INTO audit (event, ca_id, actor, detail)
		    VALUES (CASE WHEN p_cert_kind[i] = 'cross'
		    THEN 'cross-certify' ELSE 'issue' END, p_ca, p_actor,
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
