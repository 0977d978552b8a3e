-- Central key generation (RFC 9483 §4.1.6, issue 26): the CA makes the
-- key pair of an end entity in the HSM and returns the private key, in a
-- CMS envelope, with the certificate. The inventory says which
-- certificates certify such a key: a key the CA made is one the holder
-- did not (a key update, an audit, a recovery decision must know).
ALTER TABLE cert ADD COLUMN server_keygen boolean NOT NULL DEFAULT false;
CREATE INDEX cert_server_keygen_idx ON cert (ca_id) WHERE server_keygen;

-- cmpca_cert_store (021) as before, with one more array: which of the
-- certificates certify a key the CA generated (NULL: none).
DROP FUNCTION IF EXISTS cmpca_cert_store(text, bytea, bigint, bytea, text,
    bytea, text, text, text, text, bytea, int, bigint, text, text, text[],
    text[], text[], bytea[], bigint[], bigint[], text[], bytea[], text[],
    text[], int[], bigint[], boolean[], text[], int, text, bigint, bigint[],
    bigint[]);

CREATE FUNCTION cmpca_cert_store(p_txn text, p_txid bytea, p_ca bigint,
    p_ca_cert_sha256 bytea, p_actor text, p_nonce bytea, p_sender text,
    p_kind text, p_from text, p_state text, p_last_nonce bytea, p_pvno int,
    p_expires bigint, p_secret text, p_secret_version text,
    p_serial text[], p_subject text[], p_issuer text[], p_spki bytea[],
    p_not_before bigint[], p_not_after bigint[], p_status text[],
    p_der bytea[], p_profile text[], p_requester text[],
    p_cert_req_id int[], p_replaces bigint[], p_supersede boolean[],
    p_cert_kind text[], p_secret_uses int, p_credential text,
    p_obtained_with bigint, p_path_ca bigint[], p_path_cert bigint[],
    p_server_keygen boolean[] DEFAULT NULL)
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
		    obtained_with, server_keygen)
		    VALUES (p_ca, p_serial[i], p_subject[i], p_issuer[i],
		    p_spki[i], to_timestamp(p_not_before[i]),
		    to_timestamp(p_not_after[i]), p_status[i], p_der[i],
		    p_profile[i], p_requester[i], p_txid, p_cert_req_id[i],
		    p_replaces[i], coalesce(p_cert_kind[i], 'ee'),
		    p_credential, p_obtained_with,
		    coalesce(p_server_keygen[i], false))
		    ON CONFLICT (ca_id, serial) DO NOTHING RETURNING id INTO cid;
		IF cid IS NULL THEN
			RAISE EXCEPTION 'serial number collision'
			    USING ERRCODE = 'CA004';
		END IF;
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
