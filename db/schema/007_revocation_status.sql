-- Revocation status publication (RFC 5280 CRLs, RFC 6960 OCSP).

-- CRLs issued, newest number per CA last. The number is strictly
-- increasing per CA (RFC 5280 §5.2.3).
CREATE TABLE crl (
	id bigserial PRIMARY KEY,
	ca_id bigint NOT NULL REFERENCES ca (id),
	number bigint NOT NULL,
	this_update timestamptz NOT NULL,
	next_update timestamptz NOT NULL,
	entries int NOT NULL,
	der bytea NOT NULL,
	created timestamptz NOT NULL DEFAULT now(),
	UNIQUE (ca_id, number)
);

-- Delegated OCSP signers (RFC 6960 §4.2.2.2): a key in the HSM and a
-- certificate issued by the CA with id-kp-OCSPSigning and
-- id-pkix-ocsp-nocheck. The newest row per CA is used.
CREATE TABLE ocsp_signer (
	id bigserial PRIMARY KEY,
	ca_id bigint NOT NULL REFERENCES ca (id),
	key_uri text NOT NULL,
	cert bytea NOT NULL,
	created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocsp_signer_ca_idx ON ocsp_signer (ca_id, id);
-- Revoked certificates by CA, for CRLs.
CREATE INDEX cert_revoked_idx ON cert (ca_id, status) WHERE status = 'revoked';
