#!/usr/bin/env bash
# Seed each fuzz target's corpus (fuzz/corpus/<target>/, git-ignored) from the shared corpus.
# Usage: fuzz/seed.sh [CORPUS_DIR]   (default: ../shared/corpus beside the checkout)
# Files larger than 64 KiB are cut to their first 64 KiB, so that executions stay fast; the
# no-panic test (crates/evidence/tests/no_panic.rs) covers the whole files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../../shared/corpus}
[ -d "$src" ] || { echo "no corpus at $src" >&2; exit 1; }
out=$here/corpus
max=65536

# copy TARGET DIR... : every regular file (licences and READMEs skipped), named by its path.
copy() {
  local target=$1; shift
  mkdir -p "$out/$target"
  local d f name
  for d in "$@"; do
    [ -e "$src/$d" ] || continue
    find "$src/$d" -type f ! -iname 'license*' ! -iname 'readme*' ! -iname 'copying' ! -name '*.md' -print0 |
      while IFS= read -r -d '' f; do
        name=$(printf '%s' "${f#"$src"/}" | tr '/' '_')
        head -c "$max" "$f" > "$out/$target/$name"
      done
  done
}

copy detect scanners cyclonedx-spec cyclonedx-examples spdx-examples osv advisories slsa-provenance \
  oscal-examples schemas purl
copy sbom scanners/cyclonedx scanners/spdx cyclonedx-spec cyclonedx-examples spdx-examples
copy scanners scanners/trivy scanners/anchore_grype scanners/osv_scanner
copy code scanners/sarif scanners/semgrep scanners/checkov scanners/bandit
copy dast scanners/zap
copy advisories osv advisories
copy attestations slsa-provenance

# Attestations: also the decoded Statements, the bundles' bare DSSE envelopes, and JSON lines
# of two envelopes (the corpus files hold one line each).
if command -v jq > /dev/null && command -v base64 > /dev/null; then
  n=0
  for f in $(find "$src/slsa-provenance" -type f ! -iname 'license*' | sort); do
    n=$((n + 1))
    jq -c '.dsseEnvelope // .' "$f" > "$out/attestations/envelope-$n.json"
    jq -r '.payload // .dsseEnvelope.payload' "$f" | base64 -d > "$out/attestations/statement-$n.json"
  done
  cat "$out/attestations/envelope-1.json" "$out/attestations/envelope-2.json" \
    > "$out/attestations/two-lines.intoto.jsonl"
else
  echo "jq or base64 missing: decoded Statements not seeded" >&2
fi

for t in "$out"/*/; do
  echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
