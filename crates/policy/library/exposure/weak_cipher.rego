# Cipher families are probed with ClientHellos that offer only that family's suites: a
# ServerHello choosing one of them is proof the server accepts it.
package portcullis.rules.exposure.weak_cipher

metadata := {
	"id": "PCL-EXPO-006",
	"title": "Forbidden TLS cipher family accepted",
	"description": "An exposure check of kind `tls-cipher` deviates: the server accepts a cipher suite of a family the declaration forbids (CBC, RC4, 3DES). RC4 and 3DES are broken (RFC 7465, SWEET32); CBC suites invite padding-oracle attacks and Mozilla's intermediate and modern profiles exclude them.",
	"category": "security",
	"severity": "high",
	"actions": {"protected": "enforce", "unprotected": "warn"},
	"controls": {
		"nist-800-53": ["SC-8", "SC-8(1)", "SC-13"],
		"hipaa": ["164.312(e)(1)", "164.312(e)(2)(ii)"],
		"slsa": [],
	},
	"remediation": "Restrict the listener's cipher list to AEAD suites (AES-GCM, ChaCha20-Poly1305), e.g. Mozilla's intermediate profile.",
	"params": {},
}

checks := {"tls-cipher"}

violation contains v if {
	some e in input.exposures
	lower(e.check) in checks
	e.deviation == true
	v := {
		"key": sprintf("%s|%s|%s", [e.target, lower(e.check), text(e.expected)]),
		"message": sprintf("%s: %s (expected %s, observed %s)", [e.target, e.message, text(e.expected), text(e.observed)]),
		"evidence_refs": [{"exposure": d} | some d in [e.evidence]; d != null],
	}
}

text(s) := s if s != null

text(s) := "nothing" if s == null
