-- Delayed delivery (RFC 9810 §5.3.22, RFC 9483 §4.4): requests that wait
-- for an operator's decision, and the transaction state "waiting".
ALTER TABLE cmp_txn DROP CONSTRAINT cmp_txn_state_check;
ALTER TABLE cmp_txn ADD CONSTRAINT cmp_txn_state_check
    CHECK (state IN ('wait_conf', 'done', 'aborted', 'waiting'));

CREATE TABLE pending_req (
	id bigserial PRIMARY KEY,
	txid bytea NOT NULL REFERENCES cmp_txn (id),
	cert_req_id int NOT NULL,
	ca_id bigint NOT NULL REFERENCES ca (id),
	kind text NOT NULL,
	requester text NOT NULL,
	profile text NOT NULL,
	subject text NOT NULL,
	request bytea NOT NULL, -- DER of the checked CertReqMsg
	replaces bigint REFERENCES cert (id),
	status text NOT NULL DEFAULT 'pending'
	    CHECK (status IN ('pending', 'approved', 'rejected')),
	reason text,
	decided_by text,
	decided_at timestamptz,
	created timestamptz NOT NULL DEFAULT now(),
	UNIQUE (txid, cert_req_id)
);
CREATE INDEX pending_req_status_idx ON pending_req (status, created);
