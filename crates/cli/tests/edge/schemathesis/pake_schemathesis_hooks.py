"""Schemathesis hooks for the edge's OpenAPI round trip (crates/cli/tests/edge/openapi_roundtrip.rs).

`POST /v1/items:import` (a client stream) takes an NDJSON body, which schemathesis cannot
serialize by itself: one JSON record per line.
"""

import json
import schemathesis

@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    records = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)
