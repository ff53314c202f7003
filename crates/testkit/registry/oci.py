"""The Python half of portcullis-testkit's registry harness (crates/testkit/src/registry.rs).

Run by the Rust side with the venv's python as `python oci.py COMMAND`, with a JSON object on
stdin; it answers with one JSON object on stdout (or exits non-zero with the reason on stderr).

  versions   {}                                   -> {package: version}
  htpasswd   {path, username, password}           -> {}         bcrypt htpasswd for Distribution
  supervise  {command, log, max_seconds}          -> (runs)     the registry, ended when stdin closes
  layout     {dir, tag, seed, statements_b64?}    -> {manifest, index?}   an OCI image layout
  cosign     {registry.., repo, subject, suffix, layers}          -> {digest}
  referrer   {registry.., repo, subject, artifact_type, layers}   -> {digest, index}
  raw        {registry.., repo, tag, media_type, bytes_b64}       -> {ok} or {err}
  fetch      {registry.., path, auth, accept}                     -> {status, headers, body_b64}

`registry..` is {host, ca, username, password}. Pushes go through the ORAS Python SDK
(`oras.provider.Registry`): basic auth, TLS verified against the harness's CA.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading

# The venv's packages; `htpasswd` and `supervise` need only bcrypt and the standard library,
# but every command checks the venv is whole.
import bcrypt
import jsonschema
import oras.provider
import oras.schemas
import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT_ALL = ", ".join(
    [
        OCI_MANIFEST,
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def canonical(value):
    """Compact JSON as Go's encoding/json writes it (the tools imitated here are Go)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type, data, annotations=None, ggcr=False):
    """A descriptor with its fields in the order the Go type writes them: opencontainers'
    image-spec (BuildKit, oras) has digest before size, go-containerregistry (cosign) after."""
    if ggcr:
        d = {"mediaType": media_type, "size": len(data), "digest": sha256(data)}
    else:
        d = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    if annotations:
        # Go writes a map's keys sorted.
        d["annotations"] = dict(sorted(annotations.items()))
    return d


# --- htpasswd -------------------------------------------------------------------------------


def cmd_htpasswd(req):
    # Cost 5: Distribution checks the hash on every request; the tests make hundreds.
    hashed = bcrypt.hashpw(req["password"].encode(), bcrypt.gensalt(rounds=5)).decode()
    with open(req["path"], "w", encoding="utf-8") as f:
        f.write(f"{req['username']}:{hashed}\n")
    return {}


# --- supervise ------------------------------------------------------------------------------


def cmd_supervise(req):
    """Run the registry until stdin closes (the Rust side dropped it, or its process died), the
    registry exits, or max_seconds pass; the registry never outlives the test that started it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with open(req["log"], "ab") as log:
        child = subprocess.Popen(
            req["command"], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env
        )
    done = threading.Event()

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"pid": child.pid}), flush=True)
    deadline = float(req.get("max_seconds", 1800))
    waited = 0.0
    while child.poll() is None and not done.is_set() and waited < deadline:
        done.wait(0.2)
        waited += 0.2
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    sys.exit(0 if done.is_set() else 3)


# --- OCI image layouts ----------------------------------------------------------------------


def layer_tar(seed):
    """One small, reproducible tar layer whose content depends on the seed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in [
            ("etc/portcullis-seed", f"{seed}\n".encode()),
            ("app/hello.txt", f"hello from the {seed} test image\n".encode()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            info.mode = 0o644
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def gzip_bytes(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


class Layout:
    """An OCI image layout directory (image-spec image-layout.md)."""

    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "wb") as f:
            f.write(canonical({"imageLayoutVersion": "1.0.0"}))

    def blob(self, media_type, data, annotations=None):
        d = descriptor(media_type, data, annotations)
        path = os.path.join(self.root, "blobs", "sha256", d["digest"].split(":", 1)[1])
        with open(path, "wb") as f:
            f.write(data)
        return d

    def index(self, top, tag):
        top = dict(top)
        top["annotations"] = {"org.opencontainers.image.ref.name": tag}
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]}))


def image_manifest(layout, seed):
    """A linux/amd64 image as BuildKit writes one: gzip layer, OCI config, OCI manifest."""
    tar = layer_tar(seed)
    layer = layout.blob(OCI_LAYER_GZIP, gzip_bytes(tar))
    config = {
        "architecture": "amd64",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/true"],
            "Labels": {"org.opencontainers.image.title": f"portcullis-test-{seed}"},
        },
        "created": "2024-01-01T00:00:00Z",
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": f"COPY {seed} / # buildkit"}
        ],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
    }
    config_desc = layout.blob(OCI_CONFIG, canonical(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": [layer],
    }
    return layout.blob(OCI_MANIFEST, canonical(manifest))


def attestation_manifest(layout, statements):
    """BuildKit's attestation manifest: in-toto statements as layers, unsigned."""
    layers = []
    for raw in statements:
        statement = json.loads(raw)
        predicate_type = statement.get("predicateType", "")
        layers.append(
            layout.blob(
                "application/vnd.in-toto+json",
                raw,
                {"in-toto.io/predicate-type": predicate_type},
            )
        )
    config = {
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": layout.blob(OCI_CONFIG, canonical(config)),
        "layers": layers,
    }
    return layout.blob(OCI_MANIFEST, canonical(manifest))


def cmd_layout(req):
    layout = Layout(req["dir"])
    image = image_manifest(layout, req["seed"])
    statements = req.get("statements_b64")
    if statements is None:
        layout.index(image, req["tag"])
        return {"manifest": image["digest"]}
    image_entry = dict(image)
    image_entry["platform"] = {"architecture": "amd64", "os": "linux"}
    att = attestation_manifest(layout, [base64.b64decode(s) for s in statements])
    att_entry = dict(att)
    att_entry["annotations"] = {
        "vnd.docker.reference.digest": image["digest"],
        "vnd.docker.reference.type": "attestation-manifest",
    }
    att_entry["platform"] = {"architecture": "unknown", "os": "unknown"}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [image_entry, att_entry]}
    index_desc = layout.blob(OCI_INDEX, canonical(index))
    layout.index(index_desc, req["tag"])
    return {"manifest": image["digest"], "index": index_desc["digest"]}


# --- pushes through the ORAS SDK ------------------------------------------------------------


def connect(req, auth="user"):
    registry = oras.provider.Registry(
        hostname=req["host"], auth_backend="basic", tls_verify=req["ca"]
    )
    if auth == "user":
        registry.auth.set_basic_auth(req["username"], req["password"])
    elif auth == "wrong":
        registry.auth.set_basic_auth(req["username"], req["password"] + "-wrong")
    if auth in ("user", "wrong"):
        # Send the credentials with every request, not only after a 401: Distribution answers
        # an unauthenticated PUT with 401 before reading its body and closes the connection,
        # which a large body (a blob, a manifest of megabytes) meets as a broken pipe. The
        # SDK's upload calls add registry.headers.
        for name, value in registry.auth.get_auth_header().items():
            registry.set_header(name, value)
    return registry


def container(registry, repo, ref):
    sep = "@" if ref.startswith("sha256:") else ":"
    return registry.get_container(f"{registry.hostname}/{repo}{sep}{ref}")


def check(response, what):
    if response.status_code not in (200, 201, 202):
        raise SystemExit(
            f"{what}: HTTP {response.status_code} {response.reason}: {response.text[:2000]}"
        )
    return response


def upload_blob(registry, repo, media_type, data, annotations=None, ggcr=False):
    """Blob upload with the SDK's upload_blob (it reads the blob from a file)."""
    desc = descriptor(media_type, data, annotations, ggcr)
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
        path = f.name
    try:
        check(
            registry.upload_blob(path, container(registry, repo, "latest"), desc),
            f"upload blob {desc['digest']} to {repo}",
        )
    finally:
        os.unlink(path)
    return desc


def push_manifest(registry, repo, ref, media_type, data):
    """PUT exact manifest bytes under REPO:TAG or REPO@DIGEST through the SDK's authenticated,
    CA-verified request path (Registry.do_request, with the SDK's container URLs). The SDK's
    upload_manifest cannot do what the harness needs: in oras 0.2.43 it always sends
    Content-Type application/vnd.oci.image.manifest.v1+json (no image index, no Docker or
    unknown media type) and re-serializes a dict through requests (so the bytes, and with them
    the digest, are not the caller's: no push by digest, no Go-shaped JSON as cosign, BuildKit
    and oras write it, no malformed manifests). So this is upload_manifest with bytes."""
    url = f"{registry.prefix}://{container(registry, repo, ref).manifest_url()}"
    headers = dict(registry.headers)
    headers["Content-Type"] = media_type
    return registry.do_request(url, "PUT", data=data, headers=headers)


def upload_manifest(registry, repo, ref, media_type, value):
    """A manifest (dict) under REPO:TAG or REPO@DIGEST as compact JSON, validated first against
    the SDK's schema as its upload_manifest does. Returns (digest, size) of what is stored."""
    schema = oras.schemas.index if media_type == OCI_INDEX else oras.schemas.manifest
    jsonschema.validate(value, schema=schema)
    data = canonical(value)
    response = check(
        push_manifest(registry, repo, ref, media_type, data), f"push manifest {repo}:{ref}"
    )
    digest = response.headers.get("Docker-Content-Digest", "")
    if digest != sha256(data):
        raise SystemExit(f"{repo}:{ref}: the registry answered {digest}, pushed {sha256(data)}")
    return digest, len(data)


def get_manifest_bytes(registry, repo, ref):
    """The stored bytes and media type of a manifest, or (None, None) when there is none. The
    SDK's get_manifest returns parsed JSON; digests and sizes need the exact bytes, so this
    reads through the SDK's request path with the SDK's container URLs."""
    url = f"{registry.prefix}://{container(registry, repo, ref).manifest_url()}"
    headers = dict(registry.headers)
    headers["Accept"] = ACCEPT_ALL
    response = registry.do_request(url, "GET", headers=headers)
    if response.status_code == 404:
        return None, None
    check(response, f"get manifest {repo}:{ref}")
    return response.headers.get("Content-Type", "").split(";")[0].strip(), response.content


def push_layers(registry, repo, layers, ggcr=False):
    out = []
    for layer in layers:
        out.append(
            upload_blob(
                registry,
                repo,
                layer["media_type"],
                base64.b64decode(layer["bytes_b64"]),
                layer.get("annotations") or None,
                ggcr,
            )
        )
    return out


def hex_of(subject):
    if not subject.startswith("sha256:") or len(subject) != 71:
        raise SystemExit(f"subject {subject!r} is not a sha256 digest")
    return subject.split(":", 1)[1]


def cmd_cosign(req):
    """cosign's tag scheme: sha256-<hex>.<suffix>. cosign (go-containerregistry) builds the
    manifest as mutate.Append(empty.Image, static layers): an OCI image manifest whose config
    (application/vnd.oci.image.config.v1+json) is the near-empty image config below, one
    history entry and one diff_id per layer (a static layer's diff_id is its digest)."""
    registry = connect(req)
    repo = req["repo"]
    tag = f"sha256-{hex_of(req['subject'])}.{req['suffix']}"
    layers = push_layers(registry, repo, req["layers"], ggcr=True)
    config = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
        "config": {},
    }
    config_desc = upload_blob(registry, repo, OCI_CONFIG, canonical(config), ggcr=True)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": layers,
    }
    digest, _ = upload_manifest(registry, repo, tag, OCI_MANIFEST, manifest)
    return {"digest": digest, "tag": tag}


def cmd_referrer(req):
    """An OCI 1.1 referrer (image manifest with artifactType and subject, empty config, as the
    oras CLI pushes one), then the referrers tag schema: Distribution 2.8 has no referrers API,
    so, as the distribution spec tells clients, the index under tag sha256-<hex of subject>
    gets a descriptor of the new referrer (fetched, appended unless listed, pushed back)."""
    registry = connect(req)
    repo = req["repo"]
    subject = req["subject"]
    tag = f"sha256-{hex_of(subject)}"
    subject_type, subject_bytes = get_manifest_bytes(registry, repo, subject)
    if subject_bytes is None:
        raise SystemExit(f"subject {repo}@{subject} is not in the registry")
    layers = push_layers(registry, repo, req["layers"])
    empty = upload_blob(registry, repo, OCI_EMPTY, b"{}")
    empty["data"] = "e30="
    annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
    annotations.update(req.get("annotations") or {})
    annotations = dict(sorted(annotations.items()))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": req["artifact_type"],
        "config": empty,
        "layers": layers,
        "subject": {
            "mediaType": subject_type,
            "digest": subject,
            "size": len(subject_bytes),
        },
        "annotations": annotations,
    }
    # Pushed by digest (no tag of its own), as oras attach does.
    digest = sha256(canonical(manifest))
    digest, size = upload_manifest(registry, repo, digest, OCI_MANIFEST, manifest)

    index_type, index_bytes = get_manifest_bytes(registry, repo, tag)
    if index_bytes is None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    elif index_type != OCI_INDEX:
        raise SystemExit(f"{repo}:{tag} holds {index_type}, not an OCI image index")
    else:
        index = json.loads(index_bytes)
    if not any(m.get("digest") == digest for m in index.get("manifests", [])):
        index.setdefault("manifests", []).append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": size,
                "annotations": annotations,
                "artifactType": req["artifact_type"],
            }
        )
    index_digest, _ = upload_manifest(registry, repo, tag, OCI_INDEX, index)
    return {"digest": digest, "index": index_digest}


def cmd_raw(req):
    registry = connect(req)
    try:
        response = push_manifest(
            registry, req["repo"], req["tag"], req["media_type"], base64.b64decode(req["bytes_b64"])
        )
    except requests.RequestException as e:
        # The registry hung up instead of answering (as Distribution does past its limit on a
        # manifest's size): that is its answer.
        return {"err": f"connection: {e}"}
    if response.status_code in (200, 201, 202):
        return {"ok": response.headers.get("Docker-Content-Digest", "")}
    return {"err": f"HTTP {response.status_code}: {response.text[:4000]}"}


def cmd_fetch(req):
    """One GET, as a test's client would see it: anonymous (no Authorization at all), with the
    harness's credentials, or with wrong ones. Plain requests, verified against the CA."""
    auth = req.get("auth", "user")
    creds = None
    if auth == "user":
        creds = (req["username"], req["password"])
    elif auth == "wrong":
        creds = (req["username"], req["password"] + "-wrong")
    headers = {}
    if req.get("accept"):
        headers["Accept"] = req["accept"]
    response = requests.get(
        f"https://{req['host']}{req['path']}",
        auth=creds,
        headers=headers,
        verify=req["ca"],
        timeout=30,
        allow_redirects=False,
    )
    return {
        "status": response.status_code,
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "body_b64": base64.b64encode(response.content).decode(),
    }


def cmd_versions(_req):
    """The venv is whole: every package the harness and the tests use imports."""
    import importlib.metadata

    import securesystemslib.signer  # noqa: F401  (the tests sign DSSE envelopes with it)

    names = ["oras", "bcrypt", "securesystemslib", "cryptography", "requests"]
    return {name: importlib.metadata.version(name) for name in names}


COMMANDS = {
    "versions": cmd_versions,
    "htpasswd": cmd_htpasswd,
    "supervise": cmd_supervise,
    "layout": cmd_layout,
    "cosign": cmd_cosign,
    "referrer": cmd_referrer,
    "raw": cmd_raw,
    "fetch": cmd_fetch,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(f"usage: oci.py {{{','.join(COMMANDS)}}} < request.json")
    if sys.argv[1] == "supervise":
        # The request is the first line; the rest of stdin is the lifeline.
        req = json.loads(sys.stdin.buffer.readline())
    else:
        req = json.load(sys.stdin)
    answer = COMMANDS[sys.argv[1]](req)
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
