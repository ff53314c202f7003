#!/usr/bin/env bash
# The install step of the Portcullis GitHub Action (action.yml): puts a `portcullis` binary in
# place and writes its path to $GITHUB_OUTPUT as `bin`.
#   PORTCULLIS_BIN set    that binary is used as it is
#   INPUT_VERSION set     the release's binary, portcullis-<target>.tar.gz from the release
#                         v<version> of the action's repository (GITHUB_ACTION_REPOSITORY)
#   neither               built from the action's own source (GITHUB_ACTION_PATH):
#                         cargo build --release --locked -p portcullis-cli
set -euo pipefail

outputs="${GITHUB_OUTPUT:-/dev/null}"
say() { printf 'portcullis install: %s\n' "$*" >&2; }
fail() { echo "::error title=portcullis install::$*"; exit 2; }

if [ -n "${PORTCULLIS_BIN:-}" ]; then
  command -v "$PORTCULLIS_BIN" >/dev/null 2>&1 || fail "PORTCULLIS_BIN=$PORTCULLIS_BIN is not an executable"
  echo "bin=$PORTCULLIS_BIN" >>"$outputs"
  exit 0
fi

dest="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/portcullis-bin"
mkdir -p "$dest"
if [ -n "${INPUT_VERSION:-}" ]; then
  version="${INPUT_VERSION#v}"
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
    Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-gnu ;;
    Darwin-arm64) target=aarch64-apple-darwin ;;
    Darwin-x86_64) target=x86_64-apple-darwin ;;
    *) fail "no release binary for $(uname -s) $(uname -m): leave version empty to build from source" ;;
  esac
  repo="${GITHUB_ACTION_REPOSITORY:-}"
  [ -n "$repo" ] || fail "GITHUB_ACTION_REPOSITORY is not set: cannot tell where the release is"
  url="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/v$version/portcullis-$target.tar.gz"
  say "downloading $url"
  curl -sSfL --retry 3 --max-time 300 "$url" | tar -xz -C "$dest" ||
    fail "cannot download or unpack $url"
  bin="$dest/portcullis"
else
  src="${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/../.." && pwd)}"
  [ -f "$src/Cargo.toml" ] || fail "no Cargo.toml in $src: set version to use a release binary"
  command -v cargo >/dev/null 2>&1 || fail "cargo not found: set version to use a release binary, or install Rust first"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${RUNNER_TEMP:-/tmp}/portcullis-target}"
  say "building portcullis from $src (cargo build --release --locked -p portcullis-cli)"
  cargo build --release --locked -p portcullis-cli --manifest-path "$src/Cargo.toml" >&2 ||
    fail "cargo build of portcullis-cli failed"
  cp "$CARGO_TARGET_DIR/release/portcullis" "$dest/portcullis"
  bin="$dest/portcullis"
fi
[ -x "$bin" ] || fail "no portcullis binary at $bin"
"$bin" --version >&2 || fail "$bin does not run"
echo "bin=$bin" >>"$outputs"
