#!/usr/bin/env python3
"""Derives handshake-vectors.json from the captured Python manager sessions.

Usage: make-handshake-vectors.py VECTORS_DIR > handshake-vectors.json
For every worker_* and badkey_* capture it keeps the handshake frames of the first
connection (payloads without the 4-byte header) and the versions and keys involved.
"""
import glob
import json
import os
import sys

out = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*_s3.1*_c3.1*.json'))):
    name = os.path.basename(path)[:-5]
    if not (name.startswith('worker_') or name.startswith('badkey_')):
        continue
    d = json.load(open(path))
    frames = []
    for m in d['messages']:
        if m['conn'] != 1 or not m['kind'].startswith('auth'):
            continue
        frames.append({'dir': m['dir'], 'kind': m['kind'], 'payload': m['hex'][8:]})
    out.append({
        'session': name,
        'server': d['server_python'],
        'client': d['client_python'],
        'server_key': d['server_authkey'],
        'client_key': d['client_authkey'],
        'frames': frames,
    })
json.dump(out, sys.stdout, indent=1)
print()
