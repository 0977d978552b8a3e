-- Cross-certification (RFC 9810 §5.3.11) and the certificates a CA
-- identity holds besides its own.

-- What a certificate row is: an end entity (the default), a CA
-- certificate we issued to one of our own subordinates ('ca'), or a cross
-- certificate we issued to a partner CA or to another of our CAs
-- ('cross'). Everything a CA signs is in the inventory, whatever it is.
ALTER TABLE cert ADD COLUMN kind text NOT NULL DEFAULT 'ee'
    CHECK (kind IN ('ee', 'ca', 'cross'));
CREATE INDEX cert_kind_idx ON cert (ca_id, kind) WHERE kind <> 'ee';

-- Partner CAs, registered in the database so every host sees them. The
-- partner's CA certificate is pinned by its SHA-256: a ccr protected with
-- that certificate's key is from the partner. The remaining columns are
-- what the cross certificate we issue for the partner carries.
CREATE TABLE partner (
	id bigserial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	ca_id bigint NOT NULL REFERENCES ca (id), -- our CA that signs
	cert_sha256 bytea NOT NULL UNIQUE CHECK (length(cert_sha256) = 32),
	cert bytea NOT NULL,		-- DER of the partner CA certificate
	subject text NOT NULL,		-- RFC 2253, for listings
	path_len int CHECK (path_len IS NULL OR path_len >= 0),
	permitted text[] NOT NULL DEFAULT '{}',	-- name constraints, cmpca syntax
	excluded text[] NOT NULL DEFAULT '{}',
	policies text[] NOT NULL DEFAULT '{}',	-- certificatePolicies OIDs
	policy_map text[] NOT NULL DEFAULT '{}', -- "issuerOID:subjectOID"
	require_explicit int CHECK (require_explicit >= 0),
	inhibit_mapping int CHECK (inhibit_mapping >= 0),
	eku text[] NOT NULL DEFAULT '{}',	-- extendedKeyUsage OIDs, if any
	days int NOT NULL DEFAULT 365 CHECK (days > 0),
	created timestamptz NOT NULL DEFAULT now()
);

-- Certificates for one of our CA identities issued by someone else or by
-- an earlier key of its own: cross certificates received from partners
-- (or from another of our CAs), and the RFC 9810 §4.4 root key update
-- pair. Published with the CA (genm caCerts, the PEM bundle).
CREATE TABLE ca_cert (
	id bigserial PRIMARY KEY,
	ca_id bigint NOT NULL REFERENCES ca (id),
	kind text NOT NULL
	    CHECK (kind IN ('cross', 'new-with-old', 'old-with-new')),
	subject text NOT NULL,
	issuer text NOT NULL,
	not_after timestamptz NOT NULL,
	der bytea NOT NULL,
	sha256 bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
	created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ca_cert_ca_idx ON ca_cert (ca_id, kind);
