"""Loads a kubiya_bundle.json into the Kubiya SDK's own bundle model (what the SDK's
discovery does with the file), and fails on anything the model rejects or would silently
drop (it ignores unknown keys, so a misspelt field would otherwise pass unnoticed).

Usage: check_bundle.py BUNDLE_JSON; prints one JSON line: the tools as the model read them.
"""

import json
import sys

from pydantic import ValidationError

from kubiya.core.models.cli.models import BundleModel
from kubiya.tools.models import Arg, FileSpec, Tool


def dropped_keys(raw):
    """Keys of the file that the model has no field for."""
    found = [f"bundle.{k}" for k in raw if k not in BundleModel.model_fields]
    for tool in raw.get("tools", []):
        name = tool.get("name", "?")
        found += [f"{name}.{k}" for k in tool if k not in Tool.model_fields]
        for arg in tool.get("args", []):
            found += [f"{name}.args.{arg.get('name')}.{k}" for k in arg if k not in Arg.model_fields]
        for spec in tool.get("with_files") or []:
            found += [f"{name}.with_files.{k}" for k in spec if k not in FileSpec.model_fields]
    return found


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    try:
        bundle = BundleModel.model_validate_json(text)
    except ValidationError as e:
        print(f"the Kubiya SDK refuses the bundle: {e}", file=sys.stderr)
        return 1
    dropped = dropped_keys(json.loads(text))
    if dropped:
        print(f"the Kubiya SDK would ignore: {dropped}", file=sys.stderr)
        return 1
    print(json.dumps([
        {
            "name": t.name,
            "entrypoint": t.entrypoint,
            "args": [{"name": a.name, "type": a.type, "required": a.required} for a in t.args],
            "files": [f.destination for f in t.with_files or []],
        }
        for t in bundle.tools
    ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
