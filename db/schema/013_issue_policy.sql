-- Names bound to an enrollment secret (issue 13): besides the subject
-- (allowed_subject), the subjectAltName values a request authenticated
-- by the secret may carry, as patterns ("DNS:*.dev.example.com,
-- email:*@example.com, IP:10.0.0.1, URI:https://example.com/*"). NULL:
-- none listed; a secret bound to a subject then gives no subjectAltName,
-- a secret bound to nothing any (within the profile's types).
ALTER TABLE enroll_secret ADD COLUMN allowed_san text;
