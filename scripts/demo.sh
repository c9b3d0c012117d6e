#!/usr/bin/env bash
# Sets everything up, builds the built-in sample evidence, and runs the main job on it:
# case init -> evidence add -> triage -> summary -> training check against the sample's
# answer key. Output goes to ./demo-out.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bash scripts/setup.sh
out="$here/demo-out"
rm -rf "$out"
mkdir -p "$out"
F="$here/.venv/bin/forensic"

echo "== building the sample evidence in $out/sample" >&2
"$F" sample-image "$out/sample" --seed 1 >&2

echo "== case init / evidence add / triage" >&2
"$F" case init "$out/case" --case-id DEMO-001 --examiner "Demo Examiner" --organisation "Training Lab"
export FORENSIC_CASE="$out/case"
for src in "$out"/sample/*.raw "$out"/sample/*.zip; do
  "$F" evidence add "$src" --description "sample evidence" --json
done
"$F" triage --json || [ $? -eq 3 ]   # 3: completed, with warnings recorded (see 'forensic warnings')

echo "== summary" >&2
"$F" case show
echo "deleted files:" && "$F" files --deleted
echo "files whose extension contradicts their content:" && "$F" files --mismatch

echo "== training check: what the case found, against the sample's answer key" >&2
"$F" training check "$out/sample/answer-key.json" --fail-under 100
