-- cmpca as an RA, continued (issue 24): the order of an implicitConfirm
-- forwarded upstream, and the upstream's delayed delivery relayed to the
-- device.
--
-- A certificate the upstream CA issued under implicitConfirm is first
-- committed here (valid) together with its ra_fwd row marked confirm;
-- only then is the certConf sent upstream and the row deleted. A row
-- still marked confirm is a certConf the RA owes the upstream CA (the
-- worker died, or the upstream did not answer, between the two): the
-- housekeeper sends it again. So a crash between the steps leaves the
-- certificate known on both sides, never at one only.
ALTER TABLE ra_fwd ADD COLUMN confirm boolean NOT NULL DEFAULT false;
CREATE INDEX ra_fwd_confirm_idx ON ra_fwd (created) WHERE confirm;

-- The upstream CA answered waiting (RFC 9810 §5.3.22): the device is
-- answered waiting too, its request kept in pending_req with status
-- 'upstream' (not the RA operator's to decide), and its ra_fwd row marked
-- waiting. Each pollReq of the device polls upstream in that upstream
-- transaction; when the certificate arrives and passes the RA's checks
-- it is kept in ra_fwd.cert and the request approved in one database
-- transaction, and the device's poll gets it (stored then, as an approved
-- request's certificate is); certConf then flows through as usual.
ALTER TABLE ra_fwd ADD COLUMN waiting boolean NOT NULL DEFAULT false;
ALTER TABLE ra_fwd ADD COLUMN cert bytea;
ALTER TABLE pending_req DROP CONSTRAINT pending_req_status_check;
ALTER TABLE pending_req ADD CONSTRAINT pending_req_status_check
    CHECK (status IN ('pending', 'approved', 'rejected', 'upstream'));

-- The grants: whatever cmpca_grants() gives now (wrapped, not copied, as
-- 017, 018 and 021 do), and the daemon's moves of a relayed request: the
-- upstream transaction's nonces, its waiting flag and the certificate
-- received; the upstream's decision on the request.
ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_024;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cmpca_grants_before_024();
	GRANT UPDATE (up_nonce, up_peer_nonce, waiting, cert) ON ra_fwd
	    TO cmpca_daemon, cmpca_operator;
	GRANT UPDATE (status, reason, decided_by, decided_at) ON pending_req
	    TO cmpca_daemon;
	REVOKE ALL ON FUNCTION cmpca_grants_before_024() FROM PUBLIC;
END
$$;
