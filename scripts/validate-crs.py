"""Validate custom resources against the published CRDs' schemas, strictly.

Usage: validate-crs.py CRD_DIR FILE...   (run with the kubernetes-validate environment's Python,
which has PyYAML and jsonschema)

Each FILE's documents are either all built-in kinds (printed, one file a line, for
kubernetes-validate) or all custom resources, each validated against the openAPIV3Schema of its
apiVersion and kind among the CRDs in CRD_DIR (copied from the projects, see SOURCES.md there),
with `additionalProperties: false` added to every object schema that lists properties and does
not keep unknown fields (what `kubectl apply --validate=strict` refuses). Exit 1 on any error.
"""

import os
import sys

import jsonschema
import yaml

BUILTIN_GROUPS = ("apps/", "batch/", "rbac.authorization.k8s.io/", "networking.k8s.io/",
                  "policy/", "autoscaling/")


def builtin(api_version):
    return "/" not in api_version or api_version.startswith(BUILTIN_GROUPS)


def strict(schema):
    if isinstance(schema, dict):
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        for v in schema.values():
            strict(v)
    elif isinstance(schema, list):
        for v in schema:
            strict(v)


def schemas(crd_dir):
    out = {}
    for name in sorted(os.listdir(crd_dir)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(crd_dir, name)) as f:
            for crd in yaml.safe_load_all(f):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                for v in spec["versions"]:
                    schema = v["schema"]["openAPIV3Schema"]
                    strict(schema)
                    out[(f'{spec["group"]}/{v["name"]}', spec["names"]["kind"])] = schema
    return out


def main():
    crd_dir, files = sys.argv[1], sys.argv[2:]
    known = schemas(crd_dir)
    errors = 0
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        kinds = {builtin(d.get("apiVersion", "")) for d in docs}
        if kinds == {True}:
            print(path)
            continue
        if kinds != {False}:
            print(f"{path}: mixes built-in kinds and custom resources: keep them in separate files",
                  file=sys.stderr)
            errors += 1
            continue
        for i, d in enumerate(docs):
            key = (d.get("apiVersion", ""), d.get("kind", ""))
            schema = known.get(key)
            if schema is None:
                print(f"{path}#{i + 1}: no CRD for {key[0]} {key[1]} in {crd_dir}", file=sys.stderr)
                errors += 1
                continue
            for e in jsonschema.Draft7Validator(schema).iter_errors(d):
                where = "/".join(str(p) for p in e.absolute_path) or "."
                print(f"{path}#{i + 1} ({key[1]}) at {where}: {e.message}", file=sys.stderr)
                errors += 1
    sys.exit(1 if errors else 0)


main()
