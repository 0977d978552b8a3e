-- Enrollment secrets sealed in the HSM: secret_enc holds AES-256-GCM
-- ciphertext made in the token (hsm/hsm_aes.c: format byte, IV, ciphertext,
-- tag; the reference is the AAD, so a value copied to another row does not
-- open). The clear column stays only for rows written before this
-- migration: `cmpca db migrate` seals them and empties it right after the
-- SQL migrations, so it ends NULL everywhere.
ALTER TABLE enroll_secret ADD COLUMN secret_enc bytea;
ALTER TABLE enroll_secret ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE enroll_secret ADD CONSTRAINT enroll_secret_has_secret
    CHECK (secret IS NOT NULL OR secret_enc IS NOT NULL);
