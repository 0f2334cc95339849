#!/usr/bin/env sh
# Push one JPEG with curl, then its metadata.
#   sh examples/push.sh photo.jpg
set -eu
BASE=${FRAMECAST_URL:-http://127.0.0.1:8080}
curl -sS -X POST -H 'Content-Type: image/jpeg' --data-binary @"$1" "$BASE/streams/curl/frames"; echo
curl -sS -X POST -H 'Content-Type: application/json' \
  -d '{"data": {"boxes": [{"x": 10, "y": 10, "w": 100, "h": 80, "label": "thing"}]}}' \
  "$BASE/streams/curl/metadata"; echo
