-- The history a decision is judged with (Store::decision_history_of_digest): per environment of
-- a digest, the newest decisions, the newest allow, the newest allow followed by a deployment,
-- and the last deployment there. Each is a lookup at the end of one of these indexes, so the
-- cost does not grow with the decisions or deployments of the digest. Keep in step with
-- ../sqlite/0009_history_landmarks.sql.
CREATE INDEX decisions_by_artifact_verdict ON decisions (artifact_digest, environment, verdict, seq);
CREATE INDEX deployments_by_artifact ON deployments (artifact_digest, environment, seq);
