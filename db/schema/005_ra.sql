-- Registration authorities: pinned by the SHA-256 of their protection
-- certificate; requests they sign may carry raVerified POP and ask for
-- any subject under their profile (RFC 9483 §5).
CREATE TABLE ra (
	id bigserial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	cert_sha256 bytea NOT NULL UNIQUE CHECK (length(cert_sha256) = 32),
	cert bytea NOT NULL,
	subject text NOT NULL,
	profile text NOT NULL DEFAULT 'default',
	created timestamptz NOT NULL DEFAULT now()
);
