#!/usr/bin/env python3
"""Push frames to framecast over HTTP from Python, with only the standard library.

    cargo run --release            # in another terminal: the server
    python3 examples/push.py       # then open http://127.0.0.1:8080/streams/py

Each frame is raw BGR24 pixels (what OpenCV gives you: `frame.tobytes()`),
posted with its size and format in the query string. The box metadata rides
in the X-Framecast-Metadata header, so it is stamped with this exact frame.
"""
import json
import math
import os
import time
import urllib.request

BASE = os.environ.get("FRAMECAST_URL", "http://127.0.0.1:8080")
W, H = 640, 360


def frame(t):
    x = int((W - 120) * (0.5 + 0.5 * math.sin(t)))
    row_bg = bytes([40, 40, 40]) * W
    rows = []
    for y in range(H):
        if 120 <= y < 240:
            row = bytearray(row_bg)
            row[x * 3:(x + 120) * 3] = bytes([0, 200, 255]) * 120
            rows.append(bytes(row))
        else:
            rows.append(row_bg)
    return b"".join(rows), {"boxes": [{"x": x, "y": 120, "w": 120, "h": 120, "label": "ball", "score": 0.99}]}


def main():
    url = f"{BASE}/streams/py/frames?width={W}&height={H}&format=bgr24"
    t = 0.0
    while True:
        body, meta = frame(t)
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/octet-stream",
            "X-Framecast-Metadata": json.dumps(meta),
        })
        with urllib.request.urlopen(req) as resp:
            resp.read()
        t += 0.05
        time.sleep(1 / 30)


if __name__ == "__main__":
    main()
