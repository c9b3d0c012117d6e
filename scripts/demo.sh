#!/usr/bin/env bash
# Sets everything up, builds the built-in sample evidence, and runs the main job on it:
# examiner key -> hash sets (the sample's known-good and known-bad sets) -> case init -> evidence
# add (phone, card, extraction) -> triage -> search (saved hits) -> tag a city's photos -> export
# (encrypted, signed bundle) -> verify-bundle -> custody verify -> training check. Output goes
# to ./demo-out.
#
# DEMO_FORENSIC=/path/to/bin/forensic runs the job with that executable instead (no setup:
# e.g. a wheel installed in another virtualenv, as tests/test_packaging.py does), and
# DEMO_OUT=DIR writes to DIR, which must be new or empty. The job runs inside the output folder.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
F="${DEMO_FORENSIC:-}"
if [ -z "$F" ]; then
  (cd "$here" && bash scripts/setup.sh)
  F="$here/.venv/bin/forensic"
fi
if [ -n "${DEMO_OUT:-}" ]; then
  out="$DEMO_OUT"
  if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    echo "demo: DEMO_OUT=$out is not empty" >&2
    exit 1
  fi
else
  out="$here/demo-out"
  rm -rf "$out"
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$out"
start=$(date +%s)

echo "== building the sample evidence in $out/sample" >&2
"$F" sample-image "$out/sample" --seed 1 >&2

echo "== examiner key, case, evidence, triage" >&2
"$F" examiner keygen "Demo Examiner" --out "$out/keys" >&2
export FORENSIC_KEY="$out/keys/Demo Examiner.key"
# the demo's own hash set library (never the examiner's): the sets the sample ships beside its evidence
export FORENSIC_HASHSETS="$out/hashsets"
"$F" hashset import "$out/sample/hashsets/sample-rds.db" --name sample-rds --kind known-good --json
"$F" hashset import "$out/sample/hashsets/sample-vics.json" --name sample-vics --kind known-bad --json
"$F" case init "$out/case" --case-id DEMO-001 --examiner "Demo Examiner" --organisation "Training Lab"
export FORENSIC_CASE="$out/case"
for src in "$out"/sample/phone.raw "$out"/sample/card.raw "$out"/sample/extraction.zip; do
  "$F" evidence add "$src" --description "sample evidence" --delivered-by "Officer on duty" --json
done
"$F" triage --json || [ $? -eq 3 ]   # 3: completed, with warnings recorded (see 'forensic warnings')

echo "== search: a phrase in the card's deleted note, an IBAN (UTF-16LE) in the phone's free space; hits saved" >&2
"$F" search "Hotel Astoria" --item card.raw --unallocated --save --json || [ $? -eq 3 ]
"$F" search --patterns iban --item phone.raw --in content --unallocated --save --json || [ $? -eq 3 ]
echo "== search: a meeting place across two card files (--in raw: the image as one stream), words in a phone ZIP's member; saved" >&2
"$F" search Gasolinera --item card.raw --in raw --save --json || [ $? -eq 3 ]
"$F" search "palabra clave" --item phone.raw --save --json || [ $? -eq 3 ]

echo "== export: one encrypted, signed bundle with a generated password" >&2
"$F" export --out "$out/bundle.zip" --item phone.raw --type photos --type messages --generate-password --password-out "$out/bundle.password" \
  --recipient "Prosecutor's office" --json

echo "== verify-bundle, as the prosecutor would" >&2
"$F" verify-bundle "$out/bundle.zip" --password-file "$out/bundle.password" \
  --pubkey "$out/keys/Demo Examiner.pub" --extract "$out/bundle" --json
"$F" custody verify --json

echo "== a finding (2 messages of a 100-message group) and a pseudonymised bundle for victim support" >&2
PY="$(dirname "$F")/python"
key_fact() { "$PY" -c 'import json,sys; k=json.load(open(sys.argv[1])); print(next(f["expected"][sys.argv[3]] for f in k["facts"] if f["kind"]==sys.argv[2]))' "$out/sample/answer-key.json" "$1" "$2"; }
ids=$("$F" messages --item phone.raw --platform whatsapp --json | "$PY" -c '
import json, sys
e = next(f["expected"] for f in json.load(open(sys.argv[1]))["facts"] if f["kind"] == "report_finding")
for line in sys.stdin:
    m = json.loads(line)
    if m["conversation"]["title"] == e["conversation"] and m["body"] in e["selected"]:
        print("message:%d" % m["record_id"])' "$out/sample/answer-key.json")
# shellcheck disable=SC2086
"$F" tag add $ids --tag hotel --note "The handler's orders to the hotel staff: keys, arrivals" --json
"$F" export --out "$out/hotel.zip" --tag hotel --no-pdf --json
"$F" person mark "$(key_fact pseudonymised_export victim)" --role victim --note "the phone's owner" --json
"$F" tag add --conversation "$(key_fact pseudonymised_export conversation)" --tag victim-support \
  --note "She tells her family her passport was taken" --json
"$PY" -c 'import secrets; print(secrets.token_urlsafe(24))' > "$out/pseudonym.pass"
"$F" export --out "$out/victim-support.zip" --tag victim-support --pseudonymise \
  --pseudonym-passphrase-file "$out/pseudonym.pass" --no-pdf --recipient "Victim-support service" --json

echo "== places on the map: every photo taken in the route's first city (the key's box), tagged and exported" >&2
place=$(key_fact place_export tag)
shas=$("$F" geo --item phone.raw --json | "$PY" -c '
import json, sys
b = next(f["expected"]["box"] for f in json.load(open(sys.argv[1]))["facts"] if f["kind"] == "place_export")
for line in sys.stdin:
    g = json.loads(line)
    if g["kind"] == "photo" and b["south"] <= g["lat"] <= b["north"] and b["west"] <= g["lon"] <= b["east"]:
        print(g["sha256"])' "$out/sample/answer-key.json" | sort -u)
# shellcheck disable=SC2086
"$F" tag add $shas --item phone.raw --tag "$place" --note "Photos taken where the journey began" --json
"$F" export --out "$out/$place.zip" --tag "$place" --no-pdf --json

echo "== training check: what the case found, against the sample's answer key" >&2
"$F" training check "$out/sample/answer-key.json" --bundle-password-file "$out/bundle.password" --fail-under 100

echo "== summary" >&2
"$F" case show
echo "deleted files:" && "$F" files --deleted
echo "files whose extension contradicts their content:" && "$F" files --mismatch
echo "files in a known-bad hash set (listed, never shown):" && "$F" files --known-bad
"$F" files --known-bad --item phone.raw --show-known-bad "$out/viewed-known-bad" \
  --reason "Demo: confirm the hash set match before reporting it" >&2
cat >&2 <<MSG

Done in $(( $(date +%s) - start )) s.
  case:    $out/case            (FORENSIC_CASE=$out/case $F files | photos | messages ...)
  bundle:  $out/bundle.zip      (password in $out/bundle.password)
  finding: $out/hotel.zip       places: $out/$place.zip
  pseudonymised: $out/victim-support.zip (key: victim-support.zip.pseudonyms.key)
  report:  $out/bundle/DEMO-001-bundle/data/report/index.html   (verified and extracted by verify-bundle --extract)
MSG
