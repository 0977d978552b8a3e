-- 018_scope.sql - a credential carries its scope (issue 22).
--
-- cert.credential: the credential that asked for a certificate, as the
--   engine names it: 'secret:<ref>', 'ra:<name>', 'cert:sha256:<hex>'
--   (a certificate, by the SHA-256 of its DER), 'partner:<name>'; NULL for
--   the operator's own and for rows written before this migration by a
--   certificate holder (the others are filled from requester below).
-- cert.obtained_with: the certificate of our inventory whose holder
--   asked (signature protection), so that `cmpca cert revoke --cascade`
--   revokes what a compromised credential obtained, recursively.
-- enroll_secret.disabled: `cmpca secret disable`; a disabled secret is
--   refused like an unknown one (db_secret_get does not return it) and by
--   the issuing statement (CA003).
--
-- cmpca_cert_store (014) gains five arguments:
--   p_secret_uses  uses of a limited secret this response consumes (one
--                  per certificate, the waiting requests included): the
--                  secret must have that many left (CA003 otherwise).
--   p_credential, p_obtained_with  the two columns above, for every
--                  certificate of the response.
--   p_path_ca      the CA rows whose keys signed a certificate of the
--                  protection path: each must be active, or an earlier key
--                  of an active identity (CA007 otherwise).
--   p_path_cert    the inventory rows of the path's certificates we
--                  issued: each must be valid (CA008 otherwise).
-- So "retired" and "revoked" take effect in the transaction that issues,
-- whatever a worker's trust cache (CA_CACHE_CHECK) still holds.
--
-- cmpca_grants() is wrapped (as 017 does): the daemon (the housekeeper) may
-- delete cmp_txn rows past txn_retention.

ALTER TABLE cert ADD COLUMN credential text;
ALTER TABLE cert ADD COLUMN obtained_with bigint REFERENCES cert (id);
CREATE INDEX cert_obtained_with_idx ON cert (obtained_with)
    WHERE obtained_with IS NOT NULL;
-- Rows before this migration: the requester names the credential exactly
-- for secrets, RAs and partners; a certificate's hash was not recorded.
UPDATE cert SET credential = requester
    WHERE requester LIKE 'secret:%' OR requester LIKE 'ra:%'
    OR requester LIKE 'partner:%';
ALTER TABLE enroll_secret ADD COLUMN disabled boolean NOT NULL DEFAULT false;
CREATE INDEX cmp_txn_updated_idx ON cmp_txn (updated);

DROP FUNCTION IF EXISTS cmpca_cert_store(text, bytea, bigint, bytea, text,
    bytea, text, text, text, text, bytea, int, bigint, text, text, text[],
    text[], text[], bytea[], bigint[], bigint[], text[], bytea[], text[],
    text[], int[], bigint[], boolean[], text[]);

CREATE FUNCTION cmpca_cert_store(p_txn text, p_txid bytea, p_ca bigint,
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
	PERFORM 1 FROM ca WHERE id = p_ca AND status = 'active'
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


-- The grants: whatever cmpca_grants() gives now (015 and the migrations
-- after it, 016's safeguards and 017's crl_due among them), then the
-- housekeeper's pruning of finished transactions. Wrapped, not copied,
-- so that no grant of an earlier migration is lost.
ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_018;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cmpca_grants_before_018();
	GRANT DELETE ON cmp_txn TO cmpca_daemon, cmpca_operator;
	REVOKE ALL ON FUNCTION cmpca_grants_before_018() FROM PUBLIC;
END
$$;
