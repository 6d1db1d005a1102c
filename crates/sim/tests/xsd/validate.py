"""Validates OpenSCENARIO files against the ASAM XSD of their declared version.

The schemas are the ones shipped in PyPI `asam-qc-openscenarioxml` (the ASAM
quality checker), picked the way that checker picks them: FileHeader revMajor
and revMinor give version `M.m.0`. Prints one JSON object per input file on
stdout: {"file", "version", "valid", "errors": [first few messages]}. A file
whose version has no schema, or that is not well-formed XML, is reported with
valid = false and the reason, so the caller can count it.

Usage: python validate.py FILE...
"""

import importlib.resources
import json
import sys

from lxml import etree
from qc_openscenario.schema import schema_files

# Messages kept per invalid file: enough to say what is wrong without flooding.
ERRORS_KEPT = 3

schemas = {}


def schema_for(version):
    if version not in schemas:
        relative = schema_files.SCHEMA_FILES.get(version)
        if relative is None:
            schemas[version] = None
        else:
            path = importlib.resources.files("qc_openscenario.schema").joinpath(relative)
            with open(str(path), "rb") as handle:
                schemas[version] = etree.XMLSchema(etree.parse(handle))
    return schemas[version]


def check(path):
    try:
        tree = etree.parse(path)
    except etree.XMLSyntaxError as error:
        return {"file": path, "version": None, "valid": False, "errors": [f"not well-formed: {error}"]}
    header = tree.getroot().find("FileHeader")
    if header is None:
        return {"file": path, "version": None, "valid": False, "errors": ["no FileHeader"]}
    version = f"{header.get('revMajor')}.{header.get('revMinor')}.0"
    schema = schema_for(version)
    if schema is None:
        return {"file": path, "version": version, "valid": False, "errors": [f"no ASAM schema for version {version}"]}
    if schema.validate(tree):
        return {"file": path, "version": version, "valid": True, "errors": []}
    errors = [f"line {e.line}: {e.message}" for e in list(schema.error_log)[:ERRORS_KEPT]]
    return {"file": path, "version": version, "valid": False, "errors": errors}


def main():
    for path in sys.argv[1:]:
        print(json.dumps(check(path)), flush=True)


if __name__ == "__main__":
    main()
