# Helpers of the provenance rules (PCL-PROV-*): which attestations are SLSA provenance, and
# which of them name the artifact being decided.
package portcullis.lib.slsa

# is_provenance(a): a is SLSA provenance of any version (v0.1, v0.2, v1).
is_provenance(a) if startswith(lower(a.predicate_type), "https://slsa.dev/provenance/")

# names_digest(a, digest): one of a's subjects has the sha256 digest `digest`.
names_digest(a, digest) if {
	some s in a.subjects
	s.digest != null
	lower(s.digest) == lower(digest)
}

# Every SLSA provenance attestation of the input, whatever it is about.
provenance := [a | some a in input.attestations; is_provenance(a)]

# The SLSA provenance attestations that name the artifact's digest among their subjects.
for_artifact := [a | some a in provenance; names_digest(a, input.artifact.digest)]

# The SLSA provenance attestations that verified (signatures by trusted keys meeting the
# threshold, and a subject that is the artifact): the only ones whose facts (builder, source)
# are set, and so the only ones the builder and source rules judge.
verified_for_artifact := [a | some a in for_artifact; a.verified == true]

# "name@digest" of the artifact, for messages.
artifact_label := sprintf("%s@%s", [input.artifact.name, input.artifact.digest])

# builder(a): the builder id, or "" when the provenance names none.
builder(a) := a.builder_id if a.builder_id != null

builder(a) := "" if a.builder_id == null
