# Provenance is about the artifacts it lists as subjects, by digest. Provenance that does not
# list the digest being deployed says nothing about it: the artifact was rebuilt, re-tagged or
# swapped after the build the provenance describes.
package portcullis.rules.provenance.subject_mismatch

import data.portcullis.lib.slsa

metadata := {
	"id": "PCL-PROV-004",
	"title": "Artifact digest not among the provenance subjects",
	"description": "SLSA provenance is present, but none of it lists the artifact's sha256 digest among its subjects. (Without any provenance, PCL-PROV-001 reports the artifact instead.)",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SR-4", "SR-4(3)", "SI-7", "CM-14"],
		"hipaa": ["164.312(c)(1)"],
		"slsa": ["build-l1"],
	},
	"remediation": "Deploy the digest the provenance was issued for, or pass the provenance generated for this exact digest (a rebuilt or re-tagged artifact has a new digest and needs its own provenance).",
	"params": {},
}

# How many subjects a message lists before it says "and N more".
shown := 5

violation contains v if {
	count(slsa.provenance) > 0
	count(slsa.for_artifact) == 0
	v := {
		"key": input.artifact.digest,
		"message": sprintf("none of the %d SLSA provenance attestation(s) lists %s among its subjects; they name %s", [
			count(slsa.provenance), slsa.artifact_label, subjects_text,
		]),
		"evidence_refs": [{"attestation": d} | some d in {a.evidence | some a in slsa.provenance}],
	}
}

subjects := sort({subject_label(s) | some a in slsa.provenance; some s in a.subjects})

subject_label(s) := sprintf("%s@%s", [s.name, s.digest]) if s.digest != null

subject_label(s) := sprintf("%s (no sha256 digest)", [s.name]) if s.digest == null

subjects_text := "no subject at all" if {
	count(subjects) == 0
} else := concat(", ", subjects) if {
	count(subjects) <= shown
} else := sprintf("%s and %d more", [concat(", ", array.slice(subjects, 0, shown)), count(subjects) - shown])
