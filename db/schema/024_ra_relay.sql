-- cmpca as an RA, continued (issue 24): the order of an implicitConfirm
-- forwarded upstream.
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

-- The grants: whatever cmpca_grants() gives now, and nothing new yet
-- (wrapped, not copied, as 017, 018 and 021 do).
ALTER FUNCTION cmpca_grants() RENAME TO cmpca_grants_before_024;

CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cmpca_grants_before_024();
	REVOKE ALL ON FUNCTION cmpca_grants_before_024() FROM PUBLIC;
END
$$;
