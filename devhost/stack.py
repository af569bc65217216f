"""The local stack: Azurite (Blob) and the Cosmos DB SQL API server, installed from npm
into `.local/node`, started on loopback, provisioned, and stopped with no orphans.

Azure Functions Core Tools cannot be installed here, and a fake of an Azure service
would test nothing real, so the tests and the demo run against these emulators.
Everything is project-local (`.local/`), so a clean clone with Python 3.11 and Node 20
gets the same stack as any developer machine or CI.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVHOST = Path(__file__).resolve().parent
LOCAL = ROOT / ".local"
NODE_DIR = LOCAL / "node"
PACKAGE_DIR = DEVHOST  # package.json + package-lock.json of the emulators
CERT_DIR = LOCAL / "cosmos-cert"
STATE_FILE = LOCAL / "stack.json"

# Well-known local emulator credentials (public, documented by Microsoft; never real keys).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
COSMOS_EMULATOR_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nKuBy2/Kv3zGLs4SsGKGnnXxfrvQ4K3XNsjR9bKdQ=="
)
DEMO_TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
# A Teams tenant whose calls come from Microsoft Graph (the stand-in) in tests.
GRAPH_TENANT = "3c1e6f2a-7d4b-4e8a-9f21-6a5b4c3d2e1f"
# A tenant no test writes to: the role matrix reads it to show that another tenant,
# whatever its roles, sees none of the demo tenant's data (an empty tenant is the only
# one where "nothing" can be asserted whatever order the tests ran in).
EMPTY_TENANT = "99999999-8888-4777-a666-555555555555"
TEST_TENANTS = (DEMO_TENANT, "11111111-2222-4333-8444-555555555555", GRAPH_TENANT, EMPTY_TENANT)
AUDIENCE = "api://call-data-connector"
DATABASE = "calldata"


def free_port() -> int:
    """A port the OS considers free now (tiny race with other processes; fine locally)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Inter-process lock: two pytest sessions (or `make run` and `make test`) must not
    run `npm ci` into the same folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def node_packages_current() -> bool:
    stamp = NODE_DIR / ".installed"
    digest = hashlib.sha256((PACKAGE_DIR / "package-lock.json").read_bytes()).hexdigest()
    return (
        stamp.exists()
        and stamp.read_text().strip() == digest
        and (NODE_DIR / "node_modules" / "azurite").is_dir()
        and (NODE_DIR / "node_modules" / "@vercel" / "cosmosdb-server").is_dir()
    )


def ensure_node_packages() -> Path:
    """`npm ci` the pinned emulators into .local/node, once per lock file version (the
    stamp holds the lock file's hash). Returns the node_modules folder."""
    modules = NODE_DIR / "node_modules"
    if node_packages_current():
        return modules
    with _file_lock(LOCAL / "node.lock"):
        if node_packages_current():  # another process installed them meanwhile
            return modules
        if shutil.which("npm") is None:
            raise RuntimeError("npm is required (Node 20): install Node.js and npm")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(PACKAGE_DIR / name, NODE_DIR / name)
        (NODE_DIR / ".installed").unlink(missing_ok=True)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True
        )
        digest = hashlib.sha256((PACKAGE_DIR / "package-lock.json").read_bytes()).hexdigest()
        (NODE_DIR / ".installed").write_text(digest)
    return modules


def ensure_cert(folder: Path = CERT_DIR) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost, valid a year (the one bundled
    with @vercel/cosmosdb-server expired in 2021, and modern TLS stacks refuse it even
    unverified in places); regenerated when within a week of expiry."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    now = dt.datetime.now(dt.timezone.utc)
    if cert_path.exists() and key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if cert.not_valid_after_utc - now > dt.timedelta(days=7):
                return cert_path, key_path
        except ValueError:
            pass  # corrupt: make a new one
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    tmp_key, tmp_cert = key_path.with_suffix(".tmp"), cert_path.with_suffix(".tmp")
    tmp_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    tmp_key.chmod(0o600)
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp_key.replace(key_path)  # atomic: a concurrent reader never sees half a file
    tmp_cert.replace(cert_path)
    return cert_path, key_path


def _load_prctl() -> object | None:
    """libc's prctl, resolved in the parent: the child must not dlopen after fork."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """Runs in the child before exec: its own process group (stop() kills the group),
    and on Linux SIGKILL when the Python process that started it dies without running
    atexit (kill -9, crash), so no emulator is left orphaned."""
    os.setsid()
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # type: ignore[operator]  # PR_SET_PDEATHSIG


def _http_ok(url: str) -> bool:
    """Any HTTP answer (even 4xx) proves the server parses requests; TLS is unverified
    because the certificate is our own self-signed one."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


@dataclass
class Emulator:
    """One emulator process (its own process group) and what proves it is ready."""

    name: str
    cmd: list[str]
    port: int
    probe_url: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self, deadline: float) -> None:
        """TCP accept first (cheap), then a real request."""
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
            with socket.socket() as s:
                s.settimeout(1)
                listening = s.connect_ex(("127.0.0.1", self.port)) == 0
            if listening and _http_ok(self.probe_url):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready on port {self.port} (log: {self.log_path})")

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


def azurite(modules: Path, port: int, logs: Path) -> Emulator:
    """Azurite Blob only, in memory (tests start empty and leave nothing behind; Azurite
    refuses --location together with --inMemoryPersistence)."""
    cmd = [
        "node",
        str(modules / "azurite" / "dist" / "src" / "blob" / "main.js"),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--inMemoryPersistence",
    ]
    return Emulator(
        "azurite",
        cmd,
        port,
        f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list",
        logs / f"azurite-{port}.log",
    )


def azurite_queue(modules: Path, port: int, logs: Path) -> Emulator:
    """Azurite Queue, in memory: the Graph notification queue and its poison queue."""
    cmd = [
        "node",
        str(modules / "azurite" / "dist" / "src" / "queue" / "main.js"),
        "--queueHost",
        "127.0.0.1",
        "--queuePort",
        str(port),
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--inMemoryPersistence",
    ]
    return Emulator(
        "azurite-queue",
        cmd,
        port,
        f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list",
        logs / f"azurite-queue-{port}.log",
    )


def cosmos(modules: Path, port: int, logs: Path) -> Emulator:
    """@vercel/cosmosdb-server through our launcher (own cert, 404 for missing items)."""
    cert, key = ensure_cert()
    cmd = [
        "node",
        str(DEVHOST / "cosmos_launcher.js"),
        str(modules),
        str(cert),
        str(key),
        str(port),
    ]
    return Emulator("cosmos", cmd, port, f"https://127.0.0.1:{port}/", logs / f"cosmos-{port}.log")


@dataclass
class Stack:
    """Emulators on loopback ports; `env` is what the app needs to reach them.

    `authority_url` is the development token issuer (devhost.devauth.DevAuthority), set
    by whoever runs one, so `env` carries CDC_DEV_AUTHORITY too.
    The Microsoft Graph stand-in (devhost.graph_standin) starts with the emulators,
    unless `graph_url` names another Graph-compatible server (CDC_GRAPH_URL).
    """

    blob_port: int = 0
    cosmos_port: int = 0
    queue_port: int = 0
    graph_url: str | None = None
    graph: object | None = None  # devhost.graph_standin.GraphStandIn when started
    authority_url: str | None = None
    database: str = DATABASE
    tenants: tuple[str, ...] = TEST_TENANTS
    audiences: tuple[str, ...] = (AUDIENCE,)
    logs: Path = LOCAL / "logs"
    emulators: list[Emulator] = field(default_factory=list)
    started_s: float = 0.0

    def start(self, timeout: float = 60.0) -> Stack:
        """Start both emulators in parallel and return once both answer requests."""
        t0 = time.monotonic()
        modules = ensure_node_packages()
        self.blob_port = self.blob_port or free_port()
        self.cosmos_port = self.cosmos_port or free_port()
        self.queue_port = self.queue_port or free_port()
        self.emulators = [
            azurite(modules, self.blob_port, self.logs),
            cosmos(modules, self.cosmos_port, self.logs),
            azurite_queue(modules, self.queue_port, self.logs),
        ]
        atexit.register(self.stop)
        try:
            for emulator in self.emulators:
                emulator.spawn()
            if self.graph_url is None:
                from devhost.graph_standin import GraphStandIn

                self.graph = GraphStandIn(authority_url=self.authority_url).start()
            deadline = time.monotonic() + timeout
            for emulator in self.emulators:
                emulator.wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        self.started_s = time.monotonic() - t0
        return self

    def stop(self) -> None:
        for emulator in self.emulators:
            emulator.stop()
        if self.graph is not None:
            self.graph.stop()  # type: ignore[attr-defined]
            self.graph = None
        atexit.unregister(self.stop)

    @property
    def pids(self) -> dict[str, int]:
        return {e.name: e.proc.pid for e in self.emulators if e.proc is not None}

    def restart_cosmos(self) -> None:
        """Stop and start the Cosmos server on the same port (fault tests). It keeps data
        in memory, so the caller re-provisions."""
        old = next(e for e in self.emulators if e.name == "cosmos")
        old.stop()
        new = cosmos(NODE_DIR / "node_modules", self.cosmos_port, self.logs)
        new.spawn()
        new.wait_ready(time.monotonic() + 30)
        self.emulators[self.emulators.index(old)] = new

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.blob_port}/{AZURITE_ACCOUNT}"

    @property
    def storage_connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};QueueEndpoint={self.queue_endpoint};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    @property
    def queue_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.queue_port}/{AZURITE_ACCOUNT}"

    @property
    def graph_base_url(self) -> str | None:
        if self.graph_url:
            return self.graph_url
        return self.graph.url if self.graph is not None else None  # type: ignore[attr-defined]

    @property
    def cosmos_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.cosmos_port}/"

    @property
    def env(self) -> dict[str, str]:
        env = {
            "CDC_STORAGE": self.storage_connection_string,
            "COSMOS_ENDPOINT": self.cosmos_endpoint,
            "COSMOS_KEY": COSMOS_EMULATOR_KEY,
            "COSMOS_DATABASE": self.database,
            "AUTH_TENANTS": ",".join(self.tenants),
            "AUTH_AUDIENCES": ",".join(self.audiences),
        }
        if self.authority_url:
            env["CDC_DEV_AUTHORITY"] = self.authority_url
            env["CDC_GRAPH_AUTHORITY"] = self.authority_url
        if self.graph_base_url:
            env["CDC_GRAPH_URL"] = self.graph_base_url
        return env

    def write_state(self, extra: dict[str, object] | None = None, path: Path = STATE_FILE) -> Path:
        """`.local/stack.json`: ports, env and pids of a running `python -m devhost up`,
        read by `python -m devhost.token` and by people attaching tools."""
        state = {
            "blobPort": self.blob_port,
            "cosmosPort": self.cosmos_port,
            "env": self.env,
            "pids": self.pids | {"devhost": os.getpid()},
        }
        state.update(extra or {})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)
        return path
