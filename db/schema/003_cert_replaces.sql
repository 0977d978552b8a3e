-- Key update (kur): the certificate a new one replaces; the old one is
-- revoked (superseded) when the new one is confirmed.
ALTER TABLE cert ADD COLUMN replaces bigint REFERENCES cert (id);
