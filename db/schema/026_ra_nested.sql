-- cmpca as an RA, continued (issue 24): requests whose end-to-end
-- protection must stay go upstream unchanged inside a nested message
-- (RFC 9483 §5.2.2.1), the outer message signed with the RA's signing
-- identity (mode 'sig'). Signature-protected requests (kur, ir and cr
-- signed with a certificate this RA brokered) always go so; nested here
-- sends the MAC-protected requests of the identity's devices nested too
-- (`cmpca ca upstream LABEL ... --sign-ca SIGNER --nested`), for an
-- upstream CA that knows the devices' secrets and must see their own
-- protection. The reader's column grants on upstream are recomputed by
-- cmpca_grants() (021) at `cmpca db migrate`.
ALTER TABLE upstream ADD COLUMN nested boolean NOT NULL DEFAULT false;
ALTER TABLE upstream ADD CONSTRAINT upstream_nested_sig
    CHECK (NOT nested OR mode = 'sig');
