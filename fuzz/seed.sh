#!/usr/bin/env bash
# Seed each fuzz target's corpus (fuzz/corpus/<target>/, git-ignored) from the files
# fuzz/seed-sources.txt names (the shared corpus and the repository's examples), beside the
# committed seeds (fuzz/seeds/<target>/, which fuzz/campaign.sh passes to libFuzzer too).
# Usage: fuzz/seed.sh [CORPUS_DIR]   (default: ../shared/corpus beside the checkout)
# Files larger than 64 KiB are cut to their first 64 KiB, so that executions stay fast; the
# no-panic test (crates/evidence/tests/no_panic.rs) covers the whole files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
src=${1:-$repo/../shared/corpus}
[ -d "$src" ] || echo "no corpus at $src: only the repository's files are seeded" >&2
out=$here/corpus
max=65536

# copy TARGET PATH: every regular file under PATH (licences and READMEs skipped), named by its path.
copy() {
  local target=$1 path=$2
  mkdir -p "$out/$target"
  [ -e "$path" ] || return 0
  find "$path" -type f ! -iname 'license*' ! -iname 'readme*' ! -iname 'copying' ! -name '*.md' -print0 |
    while IFS= read -r -d '' f; do
      name=$(printf '%s' "${f#"$repo"/}" | tr '/' '_')
      head -c "$max" "$f" > "$out/$target/$name"
    done
}

while read -r target path; do
  case "$target" in ''|'#'*) continue ;; esac
  case "$path" in
    ../shared/corpus/*) path=$src/${path#../shared/corpus/} ;;
    *) path=$repo/$path ;;
  esac
  copy "$target" "$path"
done < "$here/seed-sources.txt"

# Gatekeeper: each library policy's template with its sample constraints, as one file.
if [ -d "$src/gatekeeper-library/library" ]; then
  n=0
  for t in $(find "$src/gatekeeper-library/library" -name template.yaml | sort); do
    n=$((n + 1))
    d=$(dirname "$t")
    { cat "$t"; find "$d/samples" -name constraint.yaml 2>/dev/null | sort | while read -r c; do
        printf '\n---\n'; cat "$c"; done; } | head -c "$max" > "$out/gatekeeper/library-$n.yaml"
  done
fi

# Attestations: also the decoded Statements, the bundles' bare DSSE envelopes, and JSON lines
# of two envelopes (the corpus files hold one line each).
if [ -d "$src/slsa-provenance" ] && command -v jq > /dev/null && command -v base64 > /dev/null; then
  n=0
  for f in $(find "$src/slsa-provenance" -type f ! -iname 'license*' | sort); do
    n=$((n + 1))
    jq -c '.dsseEnvelope // .' "$f" > "$out/attestations/envelope-$n.json"
    jq -r '.payload // .dsseEnvelope.payload' "$f" | base64 -d > "$out/attestations/statement-$n.json"
  done
  cat "$out/attestations/envelope-1.json" "$out/attestations/envelope-2.json" \
    > "$out/attestations/two-lines.intoto.jsonl"
fi

# Logs: the first 200 lines of each Loghub log as the baseline, the next 200 as the canary.
if [ -d "$src/loghub-2k" ]; then
  for f in "$src"/loghub-2k/*/*_2k.log; do
    name=$(basename "$f" _2k.log)
    { head -n 200 "$f"; printf '\n=====\n'; sed -n '201,400p' "$f"; } | head -c "$max" \
      > "$out/logs/loghub-$name.log"
  done
fi

for t in "$out"/*/; do
  echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
