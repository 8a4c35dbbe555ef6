#!/usr/bin/env bash
# The shell steps of polc.yml, one subcommand per step, runnable on any machine from
# the repository root (tests/github_actions.rs runs them on a scratch repository):
#
#   polc-ci.sh check      polc check --format sarif: $POLC_REPORT_DIR/polc.sarif for
#                         code scanning; exit 1 on findings that fail the check
#   polc-ci.sh golden     polc diff --golden: exit 1 when the checked-in artifacts
#                         are not what the manifests build
#   polc-ci.sh diff-base  polc diff --base: what the change does to the matrix, as
#                         markdown in $POLC_REPORT_DIR/diff.md; exit 0 with or
#                         without changes (changed=true|false in $GITHUB_OUTPUT)
#   polc-ci.sh comment    post diff.md on the pull request $POLC_PR with gh,
#                         replacing this job's earlier comment
#
# Settings (environment):
#   POLC             the polc binary (default: polc on PATH)
#   POLC_PATHS       manifest folders and files, space-separated (default: manifests)
#   POLC_GOLDEN      the checked-in artifact tree (default: golden)
#   POLC_BASE        the revision a pull request is compared with (default: origin/main)
#   POLC_CHECK_ARGS  more arguments for polc check, e.g. "--deny warnings"
#   POLC_REPORT_DIR  where the reports go (default: polc-report)
#   POLC_PR          the pull request number, for comment
#   GITHUB_OUTPUT, GITHUB_STEP_SUMMARY: written when set, as in GitHub Actions
set -euo pipefail

polc=${POLC:-polc}
read -r -a paths <<<"${POLC_PATHS:-manifests}"
golden=${POLC_GOLDEN:-golden}
base=${POLC_BASE:-origin/main}
read -r -a check_args <<<"${POLC_CHECK_ARGS:-}"
report=${POLC_REPORT_DIR:-polc-report}
mkdir -p "$report"

# Append stdin to the job summary when there is one.
summary() {
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat >>"$GITHUB_STEP_SUMMARY"; else cat >/dev/null; fi
}

# Record a step output when there is an output file.
output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1" >>"$GITHUB_OUTPUT"; fi
}

cmd_check() {
  local rc=0
  "$polc" --color never check --format sarif "${check_args[@]}" "${paths[@]}" >"$report/polc.sarif" || rc=$?
  if [ "$rc" -ne 0 ]; then
    # The same findings as text, for the job log (the SARIF goes to code scanning).
    "$polc" --color never check "${check_args[@]}" "${paths[@]}" || true
    echo "polc check failed (exit $rc): the findings are in $report/polc.sarif" >&2
  fi
  return "$rc"
}

cmd_golden() {
  local rc=0
  "$polc" --color never diff "${paths[@]}" --golden "$golden" --format markdown >"$report/golden.md" || rc=$?
  case "$rc" in
    0) echo "the artifacts in $golden are what the manifests build" ;;
    1)
      "$polc" --color never diff "${paths[@]}" --golden "$golden" || true
      summary <"$report/golden.md"
      echo "the artifacts in $golden are out of date: rebuild them with" >&2
      echo "  polc build ${paths[*]} --target nft --out $golden" >&2
      echo "and commit the result (review its diff)" >&2
      ;;
  esac
  return "$rc"
}

cmd_diff_base() {
  if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    echo "polc-ci.sh diff-base: revision $base is not in this clone (check out with fetch-depth: 0)" >&2
    return 2
  fi
  local rc=0
  "$polc" --color never diff "${paths[@]}" --base "$base" --format markdown >"$report/diff.md" || rc=$?
  case "$rc" in
    0) output changed=false ;;
    1) output changed=true ;;
    *)
      echo "polc diff --base $base failed (exit $rc)" >&2
      return "$rc"
      ;;
  esac
  summary <"$report/diff.md"
  cat "$report/diff.md"
}

cmd_comment() {
  if [ -z "${POLC_PR:-}" ]; then
    echo "polc-ci.sh comment: POLC_PR (the pull request number) is not set" >&2
    return 2
  fi
  if [ ! -s "$report/diff.md" ]; then
    echo "polc-ci.sh comment: no report in $report/diff.md (run diff-base first)" >&2
    return 2
  fi
  gh pr comment "$POLC_PR" --edit-last --create-if-none --body-file "$report/diff.md"
}

case "${1:-}" in
  check) cmd_check ;;
  golden) cmd_golden ;;
  diff-base) cmd_diff_base ;;
  comment) cmd_comment ;;
  *)
    echo "usage: polc-ci.sh check|golden|diff-base|comment" >&2
    exit 2
    ;;
esac
