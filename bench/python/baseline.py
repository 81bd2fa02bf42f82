#!/usr/bin/env python3
"""The Python baseline for `cargo xtask bench`: the stack lambda-forge replaces.

Measures, on this machine, what the seed's Python functions cost:

1. layer sizes: the seed's dependencies installed for arm64 Python 3.11
   (`pip install --platform manylinux2014_aarch64 ...`) into Lambda layer
   directories (`python/`), zipped deterministically, zipped and unzipped
   bytes: the shared layer as deployed and the planned split layers;
2. cold-start baseline: in a host venv holding the same packages, the time
   from spawning a fresh interpreter to having imported each function's
   dependencies and created its clients, and the peak RSS of that process
   (>= 20 fresh processes per function; peak RSS is VmHWM from /proc);
3. PyJWT RS256 verifications per second with a cached key (2048-bit RSA,
   Cognito access-token claims, as the Rust micro-benchmark).

Writes raw samples as JSON (`--out`); the statistics are computed by xtask.
Downloads and installs are cached under `--cache` so reruns are fast.

Exit status 3 means pip could not install the packages (no network to PyPI):
rerun `cargo xtask bench --skip-python` to skip this half.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

# The seed's shared dependency layer (design.md, section 1).
SHARED = ["requests", "twilio", "openai==1.39.0", "cryptography", "PyJWT[crypto]"]

# The split the team planned: layers by dependency profile. Each layer is
# installed on its own, so each one works alone; where two are attached to one
# function their common dependencies are counted twice, as Lambda would store
# them.
LAYERS = {
    "shared": SHARED,
    "core": ["requests"],
    "jwt": ["PyJWT[crypto]", "cryptography"],
    "sms": ["twilio", "openai==1.39.0"],
}

# Which layers each function attaches: as deployed (the shared layer on every
# function) and after the planned split. boto3 is part of the Lambda Python
# runtime, not of any layer.
FUNCTION_LAYERS = {
    "sms": {"deployed": ["shared"], "split": ["core", "sms"]},
    "auth": {"deployed": ["shared"], "split": ["core", "jwt"]},
    "users": {"deployed": ["shared"], "split": []},
    "authorizer": {"deployed": ["shared"], "split": ["core", "jwt"]},
    "cors": {"deployed": ["shared"], "split": []},
}

# The host venv: every layer package plus boto3 (what the runtime provides).
VENV_PACKAGES = SHARED + ["boto3"]

# What each function does before it can answer: its imports and clients, as in
# the seed. The code runs in a fresh interpreter; it prints one JSON line.
FUNCTION_INIT = {
    "sms": (
        "import boto3, requests\n"
        "from twilio.rest import Client\n"
        "table = boto3.resource('dynamodb').Table('users')\n"
        "secrets = boto3.client('secretsmanager')\n"
        "twilio = Client('AC' + '0' * 32, 'auth-token')\n"
    ),
    "auth": (
        "import boto3, requests\n"
        "cognito = boto3.client('cognito-idp')\n"
        "table = boto3.resource('dynamodb').Table('users')\n"
    ),
    "users": ("import boto3\n" "table = boto3.resource('dynamodb').Table('users')\n"),
    "authorizer": (
        "import requests, jwt\n"
        "jwks = jwt.PyJWKClient("
        "'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench1/.well-known/jwks.json')\n"
    ),
    "cors": "import json\n",
    # The interpreter alone: what every Python function pays before its imports.
    "(interpreter)": "",
}

PROBE = """\
import time as _t
_start = _t.perf_counter()
{init}
import json as _json
_ms = (_t.perf_counter() - _start) * 1000.0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the process that
# forked and exec'd us (the harness), VmHWM belongs to this address space.
try:
    with open("/proc/self/status") as _status:
        _hwm = next(int(l.split()[1]) for l in _status if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    import resource as _resource
    _hwm = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
print(_json.dumps({{"import_ms": _ms, "maxrss_kb": _hwm}}), flush=True)
"""

JWT_BENCH = """\
import json, time
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench1"
now = int(time.time())
claims = {
    "sub": "11111111-2222-3333-4444-555555555555",
    "iss": issuer,
    "client_id": "benchclient",
    "origin_jti": "00000000-0000-0000-0000-000000000000",
    "event_id": "00000000-0000-0000-0000-000000000001",
    "token_use": "access",
    "scope": "aws.cognito.signin.user.admin openid",
    "auth_time": now,
    "iat": now,
    "exp": now + 3600,
    "jti": "00000000-0000-0000-0000-000000000002",
    "username": "alice",
    "cognito:groups": ["admin", "staff"],
}
token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key-1"})
# The cached JWKS: the public key parsed once from its JWK, as PyJWKClient keeps it.
jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
jwk.update({"kid": "test-key-1", "alg": "RS256", "use": "sig"})
cached = {"test-key-1": jwt.PyJWK(jwk)}

def verify(token):
    header = jwt.get_unverified_header(token)
    signing_key = cached[header["kid"]]
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        issuer=issuer,
        leeway=10,
        options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
    )
    if claims["token_use"] != "access" or claims["client_id"] != "benchclient":
        raise ValueError("wrong token")
    return claims

for _ in range(200):
    verify(token)
count, start = 0, time.perf_counter()
deadline = start + SECONDS
while True:
    for _ in range(100):
        verify(token)
    count += 100
    now_t = time.perf_counter()
    if now_t >= deadline:
        break
print(json.dumps({"verifications": count, "seconds": now_t - start,
                  "key_bits": 2048, "token_bytes": len(token)}))
"""

EPOCH_1980 = (1980, 1, 1, 0, 0, 0)


class PipUnavailable(Exception):
    """pip could not install the packages (offline, or PyPI unreachable)."""


def log(message: str) -> None:
    print(f"bench/python: {message}", file=sys.stderr, flush=True)


def pip(python: str, args: list[str], cache: Path) -> None:
    command = [python, "-m", "pip", "install", "--quiet", "--cache-dir", str(cache / "pip")]
    command += args
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise PipUnavailable(
            f"`{' '.join(command)}` failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()[-2000:]}"
        )


def stamp(packages: list[str], extra: str = "") -> str:
    return hashlib.sha256(("\n".join(packages) + extra).encode()).hexdigest()


def install_layer(name: str, packages: list[str], cache: Path) -> Path:
    """Installs `packages` for arm64 Python 3.11 into <cache>/layers/<name>/python."""
    root = cache / "layers" / name
    marker = root / ".installed"
    want = stamp(packages, "manylinux2014_aarch64 cp311")
    if marker.is_file() and marker.read_text() == want:
        return root
    log(f"installing layer {name}: {' '.join(packages)} (arm64, Python 3.11)")
    shutil.rmtree(root, ignore_errors=True)
    (root / "python").mkdir(parents=True)
    pip(
        sys.executable,
        [
            "--platform", "manylinux2014_aarch64",
            "--implementation", "cp",
            "--python-version", "3.11",
            "--only-binary=:all:",
            "--target", str(root / "python"),
            *packages,
        ],
        cache,
    )
    marker.write_text(want)
    return root


def deterministic_zip(root: Path, out: Path) -> tuple[int, int, int]:
    """Zips everything under `root` (entries relative to it, sorted, fixed time
    and modes, deflate level 9, no extra fields). Returns (zip bytes,
    unzipped bytes, files)."""
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.name != ".installed"
    )
    unzipped = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for path in files:
            data = path.read_bytes()
            unzipped += len(data)
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), EPOCH_1980)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return out.stat().st_size, unzipped, len(files)


def layer_sizes(cache: Path) -> dict:
    sizes = {}
    for name, packages in LAYERS.items():
        root = install_layer(name, packages, cache)
        zip_bytes, unzipped, files = deterministic_zip(root, cache / "zips" / f"{name}.zip")
        sizes[name] = {
            "packages": packages,
            "zip_bytes": zip_bytes,
            "unzipped_bytes": unzipped,
            "files": files,
        }
        log(f"layer {name}: {zip_bytes:,} bytes zipped, {unzipped:,} unzipped, {files} files")
    return sizes


def ensure_venv(cache: Path) -> str:
    root = cache / "venv"
    python = root / "bin" / "python"
    marker = root / ".installed"
    want = stamp(VENV_PACKAGES, platform.python_version())
    if python.is_file() and marker.is_file() and marker.read_text() == want:
        return str(python)
    log(f"creating the host venv with {' '.join(VENV_PACKAGES)}")
    shutil.rmtree(root, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(root)
    pip(str(python), VENV_PACKAGES, cache)
    marker.write_text(want)
    return str(python)


def probe_env() -> dict:
    """What Lambda gives a Python function: region and (dummy) credentials."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAEMULATOR00000000",
        "AWS_SECRET_ACCESS_KEY": "emulator-dummy-secret",
        "AWS_SESSION_TOKEN": "emulator-dummy-session-token",
        "LANG": "C.UTF-8",
    }
    # The probe must not pick up ~/.aws config or a proxy from this machine.
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def cold_starts(python: str, runs: int) -> dict:
    env = probe_env()
    results = {}
    for name, init in FUNCTION_INIT.items():
        code = PROBE.format(init=init)
        # One untimed run warms the page cache and writes any missing .pyc,
        # as a deployed layer ships them.
        subprocess.run([python, "-c", code], env=env, capture_output=True, check=True)
        ready_ms, import_ms, maxrss_kb = [], [], []
        for _ in range(runs):
            start = time.perf_counter()
            child = subprocess.Popen(
                [python, "-c", code], env=env, stdout=subprocess.PIPE, text=True
            )
            assert child.stdout is not None
            line = child.stdout.readline()
            ready = (time.perf_counter() - start) * 1000.0
            child.stdout.read()
            if child.wait() != 0 or not line:
                raise RuntimeError(f"the {name} probe failed (exit {child.returncode})")
            sample = json.loads(line)
            ready_ms.append(ready)
            import_ms.append(sample["import_ms"])
            maxrss_kb.append(sample["maxrss_kb"])
        results[name] = {
            "init": init.strip().splitlines(),
            "ready_ms": ready_ms,
            "import_ms": import_ms,
            "maxrss_kb": maxrss_kb,
        }
        ready_sorted = sorted(ready_ms)
        log(
            f"{name}: ready median {ready_sorted[len(ready_sorted) // 2]:.1f} ms, "
            f"peak RSS {max(maxrss_kb) / 1024:.1f} MiB ({runs} fresh processes)"
        )
    return results


def jwt_throughput(python: str, seconds: float) -> dict:
    code = f"SECONDS = {seconds}\n" + JWT_BENCH
    result = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True
    )
    sample = json.loads(result.stdout.strip().splitlines()[-1])
    sample["per_second"] = sample["verifications"] / sample["seconds"]
    log(f"PyJWT RS256: {sample['per_second']:,.0f} verifications/s")
    return sample


def package_versions(python: str) -> dict:
    code = (
        "import importlib.metadata as m, json\n"
        "names = ['requests', 'twilio', 'openai', 'cryptography', 'PyJWT', 'boto3', 'botocore']\n"
        "print(json.dumps({n: m.version(n) for n in names}))\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("target/bench-python"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=20, help="fresh processes per function")
    parser.add_argument("--jwt-seconds", type=float, default=2.0)
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        log(
            f"note: host Python is {platform.python_version()}; the layers are still "
            "built for 3.11, the timings use this interpreter"
        )
    args.cache.mkdir(parents=True, exist_ok=True)
    try:
        layers = layer_sizes(args.cache)
        python = ensure_venv(args.cache)
    except PipUnavailable as error:
        log(f"cannot install the Python packages from PyPI: {error}")
        log("rerun with network access to PyPI, or skip this half: cargo xtask bench --skip-python")
        return 3
    report = {
        "python_version": subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=True,
        ).stdout.strip(),
        "packages": package_versions(python),
        "layers": layers,
        "function_layers": FUNCTION_LAYERS,
        "functions": cold_starts(python, args.runs),
        "jwt": jwt_throughput(python, args.jwt_seconds),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
