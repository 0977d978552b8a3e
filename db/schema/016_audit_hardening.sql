-- An audit trail the daemon cannot rewrite (issue 23, database half).
--
-- 1. Definer functions that cannot be hijacked. Every SECURITY DEFINER
--    function of the schema runs with search_path = pg_catalog, <schema>,
--    pg_temp (pg_temp last: a temporary table or function never shadows
--    ours); cmpca_pin_definers() sets it, and cmpca_grants() calls it on
--    every `cmpca db migrate`. Nobody but the owner may create temporary
--    objects: TEMP is revoked from PUBLIC and the three roles.
--    The seal path takes no bounds from its caller: cmpca_audit_seal()
--    fences by itself (cmpca_audit_fence is no longer callable by the
--    roles) and refuses any isolation level but READ COMMITTED, so a
--    call can only link the rows that are final, exactly what the
--    housekeeper's call links. The daemon's workers share the
--    housekeeper's role (and its credentials: same user, same peer map),
--    so a role of its own for the housekeeper would separate nothing;
--    a seal that any caller can only run correctly does.
--    Checkpoints are added only through cmpca_audit_checkpoint_add(),
--    under the seal's lock, with ids from their sequence (no gaps), for
--    the chain's own hash at that seq, never behind the last one.
-- 2. Audit rows: id, time and db_role are not the inserter's to choose
--    (column grants); a trigger sets db_role from the session
--    (session_user), refuses a cert-status row that the cert trigger did
--    not write, and an actor that names another database role.
-- 3. Certificate states are a state machine (cert_status_transition):
--      unconfirmed -> valid | rejected | revoked
--      valid -> revoked
--      revoked (certificateHold, 6) -> valid (released)
--                                    | revoked with another reason
--    and nothing else: not out of rejected, not out of a revocation for
--    any other reason, never back to unconfirmed; for every role and
--    function (only session_replication_role = replica, a superuser's,
--    skips it, and `cmpca audit verify` finds that in the history).
-- 4. Numbers verify can always read: times are hashed as numeric text
--    (identical to the bigint text for every time a bigint holds).

-- 1. Definer functions.
-- (No search_path of its own: current_schema() is the schema migrated.)
CREATE FUNCTION cmpca_pin_definers() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    WHERE p.pronamespace = current_schema()::regnamespace
	    AND p.prosecdef LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = '
		    'pg_catalog, %I, pg_temp', f, current_schema());
	END LOOP;
END
$$;

DROP FUNCTION cmpca_audit_seal(bigint);

-- Links the final audit rows after the last linked one (up to what
-- cmpca_audit_fence returns), in id order. Returns the new head. One
-- sealer at a time (an advisory lock), so several hosts may call it.
CREATE FUNCTION cmpca_audit_seal(OUT r_seq bigint, OUT r_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	p_upto bigint;
	last_id bigint;
	ids bigint[];
	rhs bytea[];
	chs bytea[] := '{}';
	i int;
BEGIN
	-- A snapshot taken before the fence would miss rows it waited for.
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'audit seal: only at isolation level read '
		    'committed' USING ERRCODE = 'invalid_transaction_state';
	END IF;
	PERFORM pg_advisory_xact_lock(1635083380, 1);	-- 'audt', 1
	p_upto := cmpca_audit_fence();
	SELECT seq, chain_hash, audit_id INTO r_seq, r_hash, last_id
	    FROM audit_seal ORDER BY seq DESC LIMIT 1;
	IF NOT FOUND THEN
		r_seq := 0;
		r_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
		last_id := 0;
	END IF;
	SELECT array_agg(id ORDER BY id),
	    array_agg(cmpca_audit_row_hash(id, at, event, ca_id, actor, detail,
	    db_role) ORDER BY id) INTO ids, rhs
	    FROM audit WHERE id > last_id AND id <= p_upto;
	IF ids IS NULL THEN
		RETURN;
	END IF;
	FOR i IN 1 .. array_length(ids, 1) LOOP
		r_hash := sha256(r_hash || rhs[i]);
		chs[i] := r_hash;
	END LOOP;
	INSERT INTO audit_seal (seq, audit_id, row_hash, chain_hash)
	    SELECT r_seq + u.o, u.id, u.rh, u.ch
	    FROM unnest(ids, rhs, chs) WITH ORDINALITY AS u(id, rh, ch, o);
	r_seq := r_seq + array_length(ids, 1);
END
$$;

-- The row hash of 015 with the time as numeric text: the same text as
-- before for every time in bigint range (those are all the rows 015 could
-- link), and a text instead of "bigint out of range" for the others.
CREATE OR REPLACE FUNCTION cmpca_audit_row_hash(p_id bigint, p_at timestamptz,
    p_event text, p_ca bigint, p_actor text, p_detail text, p_role text)
    RETURNS bytea
LANGUAGE sql STABLE AS $$
SELECT sha256(convert_to(concat_ws(E'\n', 'cmpca-audit-1', p_id::text,
    coalesce(round(extract(epoch FROM p_at) * 1000000)::text, '-'),
    coalesce(octet_length(p_event) || ':' || p_event, '-'),
    coalesce(p_ca::text, '-'),
    coalesce(octet_length(p_actor) || ':' || p_actor, '-'),
    coalesce(octet_length(p_detail) || ':' || p_detail, '-'),
    coalesce(octet_length(p_role) || ':' || p_role, '-')), 'UTF8'))
$$;

-- A signed checkpoint of the chain head at p_seq. Returns its id, or 0
-- when p_seq is behind the last checkpoint (another host signed a later
-- head). Refuses a hash that is not the chain's at p_seq, an unknown key
-- and a time more than 5 minutes from the database's. Equal seq: the
-- head signed again (the housekeeper does so before the last checkpoint
-- grows older than audit_checkpoint_max_age).
CREATE FUNCTION cmpca_audit_checkpoint_add(p_seq bigint, p_hash bytea,
    p_key bigint, p_at bigint, p_sig bytea) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	r bigint;
BEGIN
	PERFORM pg_advisory_xact_lock(1635083380, 1);
	IF p_seq < (SELECT coalesce(max(seq), 0) FROM audit_checkpoint) THEN
		RETURN 0;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM audit_seal WHERE seq = p_seq
	    AND chain_hash = p_hash) THEN
		RAISE EXCEPTION 'audit checkpoint: % is not the chain hash at '
		    'seq %', p_hash, p_seq USING ERRCODE = 'data_exception';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM audit_key WHERE id = p_key) THEN
		RAISE EXCEPTION 'audit checkpoint: no audit key %', p_key
		    USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF p_at IS NULL OR abs(p_at - extract(epoch FROM now())) > 300 OR
	    p_sig IS NULL OR length(p_sig) = 0 THEN
		RAISE EXCEPTION 'audit checkpoint: time % not within 300 s of '
		    'the database''s, or no signature', p_at
		    USING ERRCODE = 'data_exception';
	END IF;
	INSERT INTO audit_checkpoint (seq, chain_hash, key_id, at, sig)
	    VALUES (p_seq, p_hash, p_key, to_timestamp(p_at), p_sig)
	    RETURNING id INTO r;
	RETURN r;
END
$$;

-- 2. Who wrote an audit row, from the session.
CREATE FUNCTION cmpca_audit_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	NEW.db_role := session_user;
	-- cmpca_cert_status_audit (a trigger on cert) fires this one at
	-- depth 2; a statement inserting cert-status itself, at depth 1.
	IF NEW.event = 'cert-status' AND pg_trigger_depth() < 2 THEN
		RAISE EXCEPTION 'cert-status audit rows are written by the '
		    'cert trigger only' USING ERRCODE = 'insufficient_privilege';
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

CREATE TRIGGER audit_stamp BEFORE INSERT ON audit
    FOR EACH ROW EXECUTE FUNCTION cmpca_audit_stamp();

-- Certificate status rows: the revocation time as numeric text (see 4).
CREATE OR REPLACE FUNCTION cmpca_cert_status_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO audit (event, ca_id, actor, detail)
	    VALUES ('cert-status', NEW.ca_id, current_user,
	    format('%s %s %s %s %s', NEW.id, NEW.serial, NEW.status,
	    coalesce(NEW.reason::text, '-'),
	    coalesce(floor(extract(epoch FROM NEW.revoked_at))::text, '-')));
	RETURN NULL;
END
$$;

-- 3. The transitions the CA makes (see the head of this file). The same
-- rule is checked on the history by `cmpca audit verify` (db_chain.c).
CREATE FUNCTION cmpca_cert_transition() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	IF NEW.status IS NOT DISTINCT FROM OLD.status AND
	    NEW.reason IS NOT DISTINCT FROM OLD.reason AND
	    NEW.revoked_at IS NOT DISTINCT FROM OLD.revoked_at THEN
		RETURN NEW;
	END IF;
	IF (OLD.status = 'unconfirmed' AND
	    NEW.status IN ('valid', 'rejected', 'revoked'))
	    OR (OLD.status = 'valid' AND NEW.status = 'revoked')
	    OR (OLD.status = 'revoked' AND OLD.reason = 6 AND
		((NEW.status = 'valid' AND NEW.reason IS NULL) OR
		 (NEW.status = 'revoked' AND NEW.reason <> 6))) THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'certificate % (serial %): % (reason %) to % '
	    '(reason %) is not a transition the CA makes', OLD.id,
	    OLD.serial, OLD.status, coalesce(OLD.reason::text, '-'),
	    NEW.status, coalesce(NEW.reason::text, '-')
	    USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER cert_status_transition BEFORE UPDATE OF status, reason,
    revoked_at ON cert FOR EACH ROW EXECUTE FUNCTION cmpca_cert_transition();

-- What cmpca_grants() gave, as `cmpca db migrate` read it back from the
-- catalogs right after (db/db_chain.c): what `cmpca audit verify` and
-- `cmpca status` compare the roles' privileges with.
CREATE TABLE grant_baseline (
	grantee text NOT NULL,
	object text NOT NULL,
	privilege text NOT NULL
);

-- The grants of 015, and: column grants on audit, checkpoints only through
-- cmpca_audit_checkpoint_add, no TEMP, no function for PUBLIC, definer
-- functions pinned.
CREATE OR REPLACE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r text;
	f regprocedure;
	s text := quote_ident(current_schema());
BEGIN
	FOREACH r IN ARRAY ARRAY['cmpca_daemon', 'cmpca_operator',
	    'cmpca_reader'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			IF NOT EXISTS (SELECT 1 FROM pg_roles
			    WHERE rolname = current_user
			    AND (rolsuper OR rolcreaterole)) THEN
				RAISE EXCEPTION 'role % does not exist', r
				    USING ERRCODE = 'undefined_object',
				    HINT = 'create it as docs/operations.md '
				    '(Roles and grants) says, then migrate again';
			END IF;
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
		IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r
		    AND (rolsuper OR rolcreaterole OR rolcreatedb
			OR rolbypassrls)) THEN
			RAISE EXCEPTION 'role % has superuser, createrole, '
			    'createdb or bypassrls', r
			    USING ERRCODE = 'insufficient_privilege';
		END IF;
		EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM %I',
		    s, r);
		EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %s '
		    'FROM %I', s, r);
		EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %s '
		    'FROM %I', s, r);
		EXECUTE format('REVOKE ALL ON SCHEMA %s FROM %I', s, r);
		EXECUTE format('GRANT USAGE ON SCHEMA %s TO %I', s, r);
		-- CONNECT only: no TEMP (a temporary object could shadow
		-- ours), no CREATE.
		EXECUTE format('REVOKE ALL ON DATABASE %I FROM %I',
		    current_database(), r);
		EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I',
		    current_database(), r);
	END LOOP;
	-- No one but the owner creates objects here, temporary ones either;
	-- no function of ours is callable by roles not named below.
	EXECUTE format('REVOKE CREATE ON SCHEMA %s FROM PUBLIC', s);
	EXECUTE format('REVOKE TEMP ON DATABASE %I FROM PUBLIC',
	    current_database());
	IF has_database_privilege('public', current_database(), 'TEMP') THEN
		RAISE EXCEPTION 'PUBLIC keeps TEMP on database %: migrate as '
		    'its owner', current_database()
		    USING ERRCODE = 'insufficient_privilege',
		    HINT = 'ALTER DATABASE ' || current_database() ||
		    ' OWNER TO the owner role (docs/operations.md, Roles and '
		    'grants)';
	END IF;
	EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %s FROM PUBLIC',
	    s);
	PERFORM cmpca_pin_definers();

	-- The reader: everything but the enrollment secrets themselves
	-- (every other column of enroll_secret, whatever a migration adds).
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %s '
	    'TO cmpca_reader', s);
	REVOKE SELECT ON enroll_secret FROM cmpca_reader;
	EXECUTE format('GRANT SELECT (%s) ON enroll_secret TO cmpca_reader',
	    (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
	    FROM pg_attribute WHERE attrelid = 'enroll_secret'::regclass
	    AND attnum > 0 AND NOT attisdropped
	    AND attname NOT IN ('secret', 'secret_enc')));

	-- The daemon: reads everything; inserts what a CMP transaction or a
	-- CRL adds; updates only status columns. Audit rows: the content
	-- only (id, time and db_role are the database's).
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %s '
	    'TO cmpca_daemon, cmpca_operator', s);
	EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %s '
	    'TO cmpca_daemon, cmpca_operator', s);
	-- Checkpoint ids: drawn only by cmpca_audit_checkpoint_add (a gap
	-- is a deleted checkpoint); readable, to find a deleted tail.
	REVOKE USAGE ON SEQUENCE audit_checkpoint_id_seq
	    FROM cmpca_daemon, cmpca_operator;
	GRANT SELECT ON SEQUENCE audit_checkpoint_id_seq
	    TO cmpca_daemon, cmpca_operator, cmpca_reader;
	GRANT INSERT ON seen_nonce, cmp_txn, cert, crl, pending_req
	    TO cmpca_daemon, cmpca_operator;
	GRANT INSERT (event, ca_id, actor, detail) ON audit
	    TO cmpca_daemon, cmpca_operator;
	GRANT DELETE ON seen_nonce TO cmpca_daemon, cmpca_operator;
	GRANT UPDATE (state, last_nonce, updated, expires) ON cmp_txn
	    TO cmpca_daemon, cmpca_operator;
	GRANT UPDATE (status, revoked_at, reason, invalidity_date) ON cert
	    TO cmpca_daemon, cmpca_operator;
	GRANT UPDATE (uses_left) ON enroll_secret
	    TO cmpca_daemon, cmpca_operator;

	-- The operator, in addition: the configuration that lives in the
	-- database, and a CA rollover's moves (cert.ca_id, cert.kind).
	GRANT INSERT, UPDATE, DELETE ON ca, enroll_secret, ra, partner, ca_cert,
	    ocsp_signer, pending_req TO cmpca_operator;
	GRANT INSERT ON audit_key TO cmpca_operator;
	GRANT UPDATE (ca_id, kind) ON cert TO cmpca_operator;
	GRANT UPDATE (ca_id) ON crl TO cmpca_operator;

	-- Functions: the issuing ones (whatever their current signature)
	-- and the audit chain's (cmpca_audit_fence only through the seal).
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    WHERE p.pronamespace = current_schema()::regnamespace
	    AND p.proname IN ('cmpca_issue1', 'cmpca_finish',
		'cmpca_cert_store', 'cmpca_audit_seal',
		'cmpca_audit_checkpoint_add', 'cmpca_audit_row_hash') LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO cmpca_daemon, '
		    'cmpca_operator', f);
	END LOOP;
END
$$;

SELECT cmpca_pin_definers();
