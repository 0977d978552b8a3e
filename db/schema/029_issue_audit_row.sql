-- One audit row per status a certificate takes (issue 29).
--
-- Until now an issued certificate left two audit rows in the same
-- transaction: cmpca_cert_store's `issue` row (who asked: the actor,
-- with the serial) and the cert trigger's `cert-status` row (the status
-- `cmpca audit verify` compares the certificate with: "<id> <serial>
-- <status> <reason> <revoked_at>"), hence two index entries and, once
-- sealed, two chain links; a certConf's confirmation or rejection did
-- the same (cmpca_finish's `confirm` / `reject` row and the trigger's
-- `cert-status` row). Each pair is now one row, written by the cert
-- trigger: event `issue` (or `issue-upstream` for a certificate an
-- upstream CA issued to this RA), `confirm` or `reject`, actor the
-- requester as before, detail the status line of a `cert-status` row.
--
-- 1. cmpca_cert_store and cmpca_finish (and the statements of db_issue.c
--    that do their common cases) tell the trigger the event, the actor
--    and the CMP transaction through transaction-local settings
--    (cmpca.status_event, cmpca.status_actor, cmpca.status_txid), for
--    the certificates of that transaction only; the functions reset
--    them (a statement cannot: its triggers fire after it). The trigger takes only `issue`
--    and `issue-upstream` on an insert from there, and on an update,
--    with `certconf`, names the change itself: unconfirmed to valid is
--    `confirm`, to rejected `reject`; anything else, or
--    nothing (every other statement: the CLI's CA and cross
--    certificates, revocations, holds, expiry), gives a `cert-status`
--    row with the database role as actor, as before. A role that sets
--    the settings itself gets nothing it could not get by calling the
--    functions.
-- 2. The stamp trigger refuses `issue`, `issue-upstream`, `confirm` and
--    `reject` rows that the cert trigger did not write, as it refuses
--    forged `cert-status` rows (016): such a row now says a
--    certificate's status, so a hand-written one could forge history.
--    (A cross certificate keeps its `cross-certify` row, which the CLI
--    also writes directly, and its `cert-status` row: a rare path,
--    unchanged. A key update's supersede keeps its `revoke` row.)
-- 3. `cmpca audit verify` reads a certificate's status history from its
--    `cert-status`, `issue`, `issue-upstream`, `confirm` and `reject`
--    rows whose detail starts with a certificate id (db_chain.c,
--    db_harden.c); the rows of those events from before this migration
--    (detail: the serial alone) are not status rows, and their
--    certificates have their `cert-status` rows.
-- 4. cmpca_refuse(code, message) raises a refusal with its SQLSTATE
--    (CA001...), for the plain statement that stores the common case of
--    cmpca_cert_store (one certificate of a new transaction: db_issue.c,
--    st_store1): a statement has no RAISE of its own, and PL/pgSQL's
--    overhead around its statements was about 40 % of PostgreSQL's time
--    per issuance. Only the refusal codes are accepted. The daemon may
--    execute it (a grant wrapped around cmpca_grants, as 027 does).

CREATE OR REPLACE FUNCTION cmpca_cert_status_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	ev text := 'cert-status';
	who text := current_user;
BEGIN
	-- Only for a certificate of the CMP transaction the settings name:
	-- a statement cannot reset them after its triggers fired, so they
	-- may outlive it in the database transaction.
	IF coalesce(current_setting('cmpca.status_txid', true), '') <>
	    coalesce(encode(NEW.txid, 'hex'), '') THEN
		NULL;
	ELSIF TG_OP = 'INSERT' AND current_setting('cmpca.status_event', true)
	    IN ('issue', 'issue-upstream') THEN
		ev := current_setting('cmpca.status_event', true);
	ELSIF TG_OP = 'UPDATE' AND current_setting('cmpca.status_event', true)
	    = 'certconf' AND OLD.status = 'unconfirmed' AND
	    NEW.status IN ('valid', 'rejected') THEN
		ev := CASE NEW.status WHEN 'valid' THEN 'confirm'
		    ELSE 'reject' END;
	END IF;
	IF ev <> 'cert-status' THEN
		who := coalesce(nullif(current_setting('cmpca.status_actor',
		    true), ''), current_user);
	END IF;
	INSERT INTO audit (event, ca_id, actor, detail)
	    VALUES (ev, NEW.ca_id, who,
	    format('%s %s %s %s %s', NEW.id, NEW.serial, NEW.status,
	    coalesce(NEW.reason::text, '-'),
	    coalesce(floor(extract(epoch FROM NEW.revoked_at))::text, '-')));
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION cmpca_audit_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	NEW.db_role := session_user;
	-- cmpca_cert_status_audit (a trigger on cert) fires this one at
	-- depth 2; a statement inserting a status row itself, at depth 1.
	IF NEW.event IN ('cert-status', 'issue', 'issue-upstream', 'confirm',
	    'reject') AND
	    pg_trigger_depth() < 2 THEN
		RAISE EXCEPTION '% audit rows are written by the cert trigger '
		    'only', NEW.event USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF NEW.actor IS DISTINCT FROM session_user::text AND
	    NEW.actor IS DISTINCT FROM current_user::text AND
	    EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.actor) THEN
		RAISE EXCEPTION 'audit row: actor % is another database role '
		    'than %', NEW.actor, session_user
		    USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END
$$;

-- cmpca_cert_store (025) with 1 above: no `issue` row of its own.
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
	-- Who asked, for the cert trigger's row (reset below).
	PERFORM set_config('cmpca.status_actor', coalesce(p_actor, ''), true),
	    set_config('cmpca.status_txid', coalesce(encode(p_txid, 'hex'), ''),
	    true);
	FOR i IN 1 .. n LOOP
		PERFORM set_config('cmpca.status_event', CASE
		    WHEN p_cert_kind[i] = 'cross' THEN ''
		    WHEN st = 'upstream' THEN 'issue-upstream'
		    ELSE 'issue' END, true);
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
		IF p_cert_kind[i] = 'cross' THEN
			INSERT INTO audit (event, ca_id, actor, detail)
			    VALUES ('cross-certify', p_ca, p_actor, p_serial[i]);
		END IF;
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
	PERFORM set_config('cmpca.status_event', '', true),
	    set_config('cmpca.status_actor', '', true),
	    set_config('cmpca.status_txid', '', true);
END
$$;


-- cmpca_finish (025) with 1 above: no confirm or reject rows of its own.
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
	PERFORM set_config('cmpca.status_actor', coalesce(p_actor, ''), true),
	    set_config('cmpca.status_event', 'certconf', true),
	    set_config('cmpca.status_txid', encode(p_txid, 'hex'), true);
	UPDATE cert SET status = 'valid', revoked_at = NULL, reason = NULL
	    WHERE id = ANY (p_accept) AND status = 'unconfirmed';
	UPDATE cert SET status = 'rejected', revoked_at = now(),
	    reason = p_reason WHERE id = ANY (p_reject)
	    AND status = 'unconfirmed';
	PERFORM set_config('cmpca.status_event', '', true),
	    set_config('cmpca.status_actor', '', true),
	    set_config('cmpca.status_txid', '', true);
	WITH c AS (UPDATE cert SET status = 'revoked', revoked_at = now(),
	    reason = 4 WHERE id = ANY (p_supersede) AND status = 'valid'
	    RETURNING serial)
	INSERT INTO audit (event, ca_id, actor, detail)
	    SELECT 'revoke', p_ca, p_actor, 'superseded by key update: ' || serial
	    FROM c;
	RETURN 1;
END
$$;

CREATE FUNCTION cmpca_refuse(p_code text, p_message text) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
	IF p_code !~ '^CA00[1-8]$' THEN
		RAISE EXCEPTION 'cmpca_refuse: % is not a refusal code', p_code
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RAISE EXCEPTION '%', p_message USING ERRCODE = p_code;
END
$$;

ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_029;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cmpca_grants_before_029();
	REVOKE ALL ON FUNCTION cmpca_refuse(text, text) FROM PUBLIC;
	GRANT EXECUTE ON FUNCTION cmpca_refuse(text, text)
	    TO cmpca_daemon, cmpca_operator;
	REVOKE ALL ON FUNCTION cmpca_grants_before_029() FROM PUBLIC;
END
$$;
