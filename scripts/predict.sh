#!/usr/bin/env bash
# POST a payload file to a local endpoint and print the response (loopback only).
#   scripts/predict.sh FILE [CONTENT_TYPE] [ACCEPT] [URL]
#   defaults: text/csv, text/csv, http://127.0.0.1:8080/invocations
# Set CUSTOM_ATTRIBUTES="explain=true" to send X-Amzn-SageMaker-Custom-Attributes.
set -euo pipefail

usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }
if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then
  usage
  exit 0
fi
if [[ $# -lt 1 || $# -gt 4 ]]; then
  usage >&2
  exit 2
fi
file="$1"
content_type="${2:-text/csv}"
accept="${3:-text/csv}"
url="${4:-http://127.0.0.1:8080/invocations}"
case "$url" in
  http://127.0.0.1:*|http://127.0.0.1/*|http://localhost:*|http://localhost/*) ;;
  *) echo "error: $url is not a loopback URL" >&2; exit 2 ;;
esac
headers=(-H "Content-Type: ${content_type}" -H "Accept: ${accept}")
if [[ -n "${CUSTOM_ATTRIBUTES:-}" ]]; then
  headers+=(-H "X-Amzn-SageMaker-Custom-Attributes: ${CUSTOM_ATTRIBUTES}")
fi
exec curl --silent --show-error --noproxy '*' --write-out '\n[HTTP %{http_code}]\n' \
  "${headers[@]}" --data-binary "@${file}" "$url"
