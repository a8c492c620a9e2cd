"""Prints the sha256 of a small JSON document, using only the stdlib."""

import hashlib
import json
import sys

doc = {"image": "python", "built-by": "strata", "layers": "one per package"}
canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
digest = hashlib.sha256(canonical).hexdigest()
print(f"strata python example: sha256({canonical.decode()}) = {digest}")
print(f"python {sys.version_info.major}.{sys.version_info.minor}")
