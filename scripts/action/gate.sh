#!/usr/bin/env bash
# The gate step of the Portcullis GitHub Action (action.yml): one `portcullis gate`, one
# recorded decision, written three ways — GitHub annotations (stdout), SARIF and markdown — and
# the step's outputs. Runs outside GitHub too (crates/cli/tests/ci_integrations.rs runs it with
# the variables a runner sets).
#
# Inputs (what action.yml passes):
#   INPUT_ENVIRONMENT     the environment deployed to (required)
#   INPUT_ARTIFACT        NAME@sha256:HEX           } one of them, or manifests
#   INPUT_IMAGE           registry/repository:tag   } in INPUT_ARGS
#   INPUT_EVIDENCE        evidence files, directories or globs (whitespace or newline separated;
#                         a glob that matches nothing is passed on as it is, and the gate fails
#                         closed on it)
#   INPUT_ARGS            more `portcullis gate` arguments, one per line
#   INPUT_SERVER          a Portcullis server URL: gate --server (decided and recorded there)
#   INPUT_TOKEN           its API token (role ci), when not using OIDC
#   INPUT_OIDC_AUDIENCE   request a GitHub OIDC ID token with this audience and send it as the
#                         bearer token (needs `permissions: id-token: write`)
#   INPUT_SARIF           write the SARIF file (true/false, default true)
#   INPUT_SUMMARY         append the markdown to $GITHUB_STEP_SUMMARY (default true)
#   INPUT_FAIL_ON_DENY    exit 1 on deny (default true); errors (2) always fail the step
#   INPUT_WORKING_DIRECTORY  where paths are relative to (default $GITHUB_WORKSPACE)
#   PORTCULLIS_BIN        the portcullis binary (default: portcullis on PATH)
# Outputs (to $GITHUB_OUTPUT): verdict (allow, deny or error), decision-id, exit-code,
# sarif-file, summary-file, decision-file.
# Exit code: the gate's (0 allow, 1 deny, 2 error), 0 for a deny with fail-on-deny false.
set -uo pipefail

bin="${PORTCULLIS_BIN:-portcullis}"
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/portcullis-gate-$$"
outputs="${GITHUB_OUTPUT:-/dev/null}"

# A boolean input: true or false (and the usual spellings); anything else is an error.
bool_input() {
  case "${2,,}" in
    true | yes | 1 | on) echo true ;;
    false | no | 0 | off) echo false ;;
    '') echo "$3" ;;
    *) return 1 ;;
  esac
}
bad_bool=""
want_sarif=$(bool_input sarif "${INPUT_SARIF:-}" true) || { want_sarif=true; bad_bool="sarif=${INPUT_SARIF}"; }
want_summary=$(bool_input summary "${INPUT_SUMMARY:-}" true) || { want_summary=true; bad_bool="summary=${INPUT_SUMMARY}"; }
fail_on_deny=$(bool_input fail-on-deny "${INPUT_FAIL_ON_DENY:-}" true) || { fail_on_deny=true; bad_bool="fail-on-deny=${INPUT_FAIL_ON_DENY}"; }

output() { printf '%s=%s\n' "$1" "$2" >>"$outputs"; }

# Report the outcome and exit (verdict from the decision JSON when there is one).
finish() {
  local code=$1 verdict=error id=""
  if [ -s "$out_dir/decision.json" ]; then
    # Top-level keys of the pretty-printed decision are indented by two spaces.
    verdict=$(sed -n 's/^  "decision": "\([a-z]*\)",\{0,1\}$/\1/p' "$out_dir/decision.json" | head -n 1)
    id=$(sed -n 's/^  "id": "\([^"]*\)",\{0,1\}$/\1/p' "$out_dir/decision.json" | head -n 1)
    [ -n "$verdict" ] || verdict=error
  fi
  [ "$code" != 2 ] || verdict=error
  output verdict "$verdict"
  output decision-id "$id"
  output exit-code "$code"
  if [ -s "$out_dir/portcullis.sarif" ]; then output sarif-file "$out_dir/portcullis.sarif"; else output sarif-file ""; fi
  if [ -s "$out_dir/summary.md" ]; then output summary-file "$out_dir/summary.md"; fi
  if [ -s "$out_dir/decision.json" ]; then output decision-file "$out_dir/decision.json"; fi
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ "$want_summary" = true ]; then
    if [ -s "$out_dir/summary.md" ]; then
      cat "$out_dir/summary.md" >>"$GITHUB_STEP_SUMMARY"
    else
      printf '## Portcullis gate: :x: error\n\nThe gate could not decide (exit %s): see the step log.\n' "$code" >>"$GITHUB_STEP_SUMMARY"
    fi
  fi
  if [ "$code" = 1 ] && [ "$fail_on_deny" = false ]; then
    echo "portcullis: denied, but fail-on-deny is false: the step passes"
    exit 0
  fi
  exit "$code"
}

# A workflow command's message with %, CR and LF escaped as GitHub documents, so an input
# cannot end the command and start another.
command_data() {
  local m=$*
  m=${m//'%'/%25}
  m=${m//$'\r'/%0D}
  m=${m//$'\n'/%0A}
  printf '%s' "$m"
}

fail() {
  echo "::error title=portcullis::$(command_data "$*")"
  finish 2
}

mkdir -p "$out_dir" || fail "cannot create $out_dir"
if [ -n "${INPUT_WORKING_DIRECTORY:-}" ]; then
  cd "$INPUT_WORKING_DIRECTORY" || fail "working-directory $INPUT_WORKING_DIRECTORY: no such directory"
elif [ -n "${GITHUB_WORKSPACE:-}" ]; then
  cd "$GITHUB_WORKSPACE" || fail "GITHUB_WORKSPACE $GITHUB_WORKSPACE: no such directory"
fi
[ -z "$bad_bool" ] || fail "input ${bad_bool%%=*} must be true or false, not '${bad_bool#*=}'"

[ -n "${INPUT_ENVIRONMENT:-}" ] || fail "input environment is required"
command -v "$bin" >/dev/null 2>&1 || fail "portcullis binary not found: $bin"

args=(gate --env "$INPUT_ENVIRONMENT" --format github --color never
  --write "json=$out_dir/decision.json" --write "markdown=$out_dir/summary.md")
if [ "$want_sarif" = true ]; then
  args+=(--write "sarif=$out_dir/portcullis.sarif")
fi
[ -z "${INPUT_ARTIFACT:-}" ] || args+=(--artifact "$INPUT_ARTIFACT")
[ -z "${INPUT_IMAGE:-}" ] || args+=(--image "$INPUT_IMAGE")

if [ -n "${INPUT_EVIDENCE:-}" ]; then
  shopt -s nullglob globstar
  evidence=()
  # Word splitting on whitespace is what the input means; each word may be a glob.
  read -r -d '' -a patterns <<<"$INPUT_EVIDENCE" || true
  for p in "${patterns[@]}"; do
    # shellcheck disable=SC2206 # the glob is meant to expand (no spaces: split above)
    matches=($p)
    if [ ${#matches[@]} -gt 0 ]; then evidence+=("${matches[@]}"); else evidence+=("$p"); fi
  done
  shopt -u nullglob globstar
  [ ${#evidence[@]} -eq 0 ] || args+=(--evidence "${evidence[@]}")
fi
if [ -n "${INPUT_ARGS:-}" ]; then
  while IFS= read -r line; do
    [ -z "${line//[[:space:]]/}" ] || args+=("$line")
  done <<<"$INPUT_ARGS"
fi

# The token for --server: a GitHub OIDC ID token when an audience is given, else the static
# one (else PORTCULLIS_TOKEN as the step's environment has it).
if [ -n "${INPUT_SERVER:-}" ]; then
  args+=(--server "$INPUT_SERVER")
  if [ -n "${INPUT_OIDC_AUDIENCE:-}" ]; then
    if [ -z "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] || [ -z "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]; then
      fail "oidc-audience is set but no OIDC token can be requested: give the job 'permissions: id-token: write'"
    fi
    audience=$(printf '%s' "$INPUT_OIDC_AUDIENCE" | od -An -tx1 -v | tr -d ' \n' | sed 's/../%&/g')
    response=$(curl -sS --fail --max-time 30 \
      -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
      -H "Accept: application/json" \
      "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=$audience") ||
      fail "the OIDC token request to ACTIONS_ID_TOKEN_REQUEST_URL failed"
    jwt=$(printf '%s' "$response" | sed -n 's/.*"value"[[:space:]]*:[[:space:]]*"\([A-Za-z0-9._-]*\)".*/\1/p')
    [ -n "$jwt" ] || fail "the OIDC token response has no token (\"value\")"
    echo "::add-mask::$jwt"
    export PORTCULLIS_TOKEN="$jwt"
  elif [ -n "${INPUT_TOKEN:-}" ]; then
    export PORTCULLIS_TOKEN="$INPUT_TOKEN"
  elif [ -z "${PORTCULLIS_TOKEN:-}" ]; then
    fail "input server is set: give a token (a secret with a ci-role API token) or oidc-audience"
  fi
fi

echo "portcullis ${args[*]}" >&2
"$bin" "${args[@]}"
code=$?
case "$code" in
  0 | 1 | 2) ;;
  *) echo "::error title=portcullis::portcullis exited with $code"; code=2 ;;
esac
finish "$code"
