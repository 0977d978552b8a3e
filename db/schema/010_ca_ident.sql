-- CA identities beyond self-signed roots: subordinates of a local CA or of
-- an external one, their chains, and CA key rollover (RFC 9810 §4.4).

-- 'pending': the key is in the HSM and a PKCS#10 request was exported
-- (cmpca ca csr); the certificate is not there yet, so cert may be NULL
-- until cmpca ca import-cert installs it and makes the row active. A
-- pending row issues nothing and is nowhere a trust anchor.
ALTER TABLE ca DROP CONSTRAINT ca_status_check;
ALTER TABLE ca ADD CONSTRAINT ca_status_check
    CHECK (status IN ('active', 'retired', 'pending'));
ALTER TABLE ca ALTER COLUMN cert DROP NOT NULL;
ALTER TABLE ca ADD CONSTRAINT ca_cert_present
    CHECK (status = 'pending' OR cert IS NOT NULL);

-- The issuers of cert, nearest first, up to and including the
-- self-signed root, as concatenated DER; NULL for a root.
ALTER TABLE ca ADD COLUMN chain bytea;
-- The PKCS#10 request of a pending CA (its subject and key are what
-- import-cert checks the returned certificate against).
ALTER TABLE ca ADD COLUMN csr bytea;
-- A row that holds an earlier key of another identity after a rollover
-- (status 'retired'): the identity that now has the name and a new key.
-- Certificates issued with the old key live under this row, so CRLs and
-- OCSP for them keep working with the old key.
ALTER TABLE ca ADD COLUMN key_of bigint REFERENCES ca (id);
