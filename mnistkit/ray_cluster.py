"""Connect to the Ray cluster named by `MNISTKIT_RAY_ADDRESS`, refusing one that lets anyone in.

A Ray cluster runs whatever code a client sends it, so mnistkit sends jobs only to a
cluster started with token authentication (`RAY_AUTH_MODE=token`). The check is the one an
attacker would make: a throw-away client without a token asks the cluster's GCS for a key;
if it gets an answer, anyone on the network could run code there. `ray` itself is imported
inside the functions, after the environment is set up, so importing this module stays light.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from mnistkit.jobs import RAY_ADDRESS_ENV

JOB_CPUS_ENV = "MNISTKIT_RAY_JOB_CPUS"
ALLOW_OPEN_ENV = "MNISTKIT_RAY_ALLOW_UNAUTHENTICATED"
DEFAULT_JOB_CPUS = 2  # one job per two cores, as MNISTKIT_MAX_JOBS does for the thread engine
NAMESPACE = "mnistkit"
PROBE_TIMEOUT_S = 20.0
TOKEN_HELP = (
    "set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) to the token the head was started with, "
    "and delete a stale ~/.ray/auth_token left by an earlier local ray.init()"
)

_lock = threading.Lock()
_checked: str | None = None  # the GCS address this process has checked and connected to

# Run in a fresh interpreter: Ray reads RAY_AUTH_MODE once per process.
_PROBE = """
import os, sys
from ray._raylet import AuthenticationTokenLoader, GcsClient
from ray.exceptions import AuthenticationError
loader = AuthenticationTokenLoader.instance()
if os.environ["RAY_AUTH_MODE"] == "token" and not loader.has_token(ignore_auth_mode=True):
    print("no-token")
    sys.exit()
try:
    GcsClient(address=sys.argv[1]).internal_kv_get(b"probe", b"mnistkit", timeout=5)
except AuthenticationError:
    print("rejected")
except Exception as exc:
    print("error", type(exc).__name__, str(exc).splitlines()[0][:200])
else:
    print("accepted")
"""


class ClusterError(ConnectionError):
    """The Ray cluster cannot be used; the message says why, and what to do, in one sentence."""


def ray_address() -> str | None:
    """`MNISTKIT_RAY_ADDRESS` (`auto`, `host:port` or `ray://host:10001`), or None."""
    return os.environ.get(RAY_ADDRESS_ENV, "").strip() or None


def job_cpus() -> int:
    """CPUs each job reserves (`MNISTKIT_RAY_JOB_CPUS`, default 2); TensorFlow uses as many."""
    value = os.environ.get(JOB_CPUS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_JOB_CPUS


def open_cluster_allowed() -> bool:
    return os.environ.get(ALLOW_OPEN_ENV, "").strip().lower() in ("1", "true", "yes")


def runtime_env() -> dict:
    """Ship this mnistkit package to the workers, so a lab node needs only the requirements.

    Ray takes local folders only for a whole driver (`ray.init(runtime_env=...)`): a program
    that calls `ray.init` itself passes this.
    """
    return {"py_modules": [str(Path(__file__).resolve().parent)], "excludes": ["__pycache__"]}


def connect() -> None:
    """Connect this process to the configured cluster once; raise ClusterError if it is unusable."""
    global _checked
    address = ray_address()
    if address is None:
        raise ClusterError(f"{RAY_ADDRESS_ENV} is not set: no Ray cluster to send jobs to.")
    with _lock:
        if address != "auto":
            _check_reachable(address)
        if "ray" in sys.modules:
            import ray

            if ray.is_initialized():  # already connected (an embedding program, or the tests)
                if _checked is None:
                    if not ray.util.client.ray.is_connected():
                        _check_gcs(ray.get_runtime_context().gcs_address, own_token=False)
                    _checked = "initialised"
                return
        if address.startswith("ray://"):
            _connect_client(address)
        else:
            gcs = _resolve(address)
            _check_gcs(gcs, own_token=True)
            _init(gcs)
        _checked = address


def check_fits(cpus: int) -> None:
    """Fail now, not never, when no live node has `cpus` CPUs to reserve."""
    import ray

    biggest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
    if cpus > biggest:
        raise ClusterError(
            f"Each job reserves {cpus} CPUs ({JOB_CPUS_ENV}) but the largest node of the Ray "
            f"cluster has {biggest:g}: lower {JOB_CPUS_ENV} or add a bigger node."
        )


def _check_reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            pass
    except (OSError, ValueError) as exc:
        raise ClusterError(
            f"Nothing answers at the Ray address {address} ({exc.__class__.__name__}): start the "
            f"Ray head there (`ray start --head`) or correct {RAY_ADDRESS_ENV}."
        ) from None


def _resolve(address: str) -> str:
    """`auto` → the GCS address of the cluster started on this machine."""
    if address != "auto":
        return address
    from ray._private.services import canonicalize_bootstrap_address

    found = canonicalize_bootstrap_address("auto")
    if not found:
        raise ClusterError(
            f"{RAY_ADDRESS_ENV}=auto but no Ray cluster runs on this machine: start one "
            "with `ray start --head` or give its host:port."
        )
    _check_reachable(found)
    return found


def probe(gcs_address: str, *, with_token: bool) -> str:
    """Ask the GCS for a key from a fresh process: accepted, rejected, no-token or error …."""
    env = dict(os.environ)
    if with_token:
        env["RAY_AUTH_MODE"] = "token"
    else:
        env["RAY_AUTH_MODE"] = "disabled"
        for key in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
            env.pop(key, None)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, gcs_address],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return "error timeout"
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else f"error exit status {proc.returncode}"


def _check_gcs(gcs: str, *, own_token: bool) -> None:
    anonymous = probe(gcs, with_token=False)
    if anonymous == "accepted":
        if not open_cluster_allowed():
            raise ClusterError(
                f"The Ray cluster at {gcs} accepts clients without a token, so anyone who can "
                "reach it can run code on it: restart it with RAY_AUTH_MODE=token "
                f"(docs/CLASSROOM.md), or set {ALLOW_OPEN_ENV}=1 to use it anyway."
            )
        return
    if anonymous != "rejected":
        raise ClusterError(f"Could not talk to the Ray cluster at {gcs}: {anonymous}.")
    if not own_token:
        return
    use_token_auth()
    mine = probe(gcs, with_token=True)
    if mine == "no-token":
        raise ClusterError(
            f"The Ray cluster at {gcs} needs a token and this app has none: {TOKEN_HELP}."
        )
    if mine == "rejected":
        raise ClusterError(
            f"The Ray cluster at {gcs} rejected this app's token (InvalidAuthToken): {TOKEN_HELP}."
        )
    if mine != "accepted":
        raise ClusterError(f"Could not talk to the Ray cluster at {gcs}: {mine}.")


def use_token_auth() -> None:
    """Send the token from now on (RAY_AUTH_MODE=token), even if Ray's config was read already."""
    os.environ["RAY_AUTH_MODE"] = "token"
    if "ray" in sys.modules:
        from ray._raylet import Config

        Config.initialize("")  # what Ray itself does when it turns token auth on


def _init(address: str) -> None:
    import ray
    from ray.exceptions import AuthenticationError

    try:
        ray.init(
            address=address, namespace=NAMESPACE, runtime_env=runtime_env(), log_to_driver=False
        )
    except AuthenticationError:
        raise ClusterError(
            f"The Ray cluster at {address} rejected this app's token: {TOKEN_HELP}."
        ) from None
    except Exception as exc:
        raise ClusterError(f"Could not connect to the Ray cluster at {address}: {exc}") from None


def _connect_client(address: str) -> None:
    """Ray Client (`ray://`): connect with the token, then ask a worker how the cluster runs."""
    if not open_cluster_allowed():
        use_token_auth()
    _init(address)
    import ray

    @ray.remote(num_cpus=0)
    def auth_mode() -> str:
        return os.environ.get("RAY_AUTH_MODE", "disabled")

    # Every process of a cluster must share its auth mode, so one worker's answer is the head's.
    mode = ray.get(auth_mode.options(resources={"node:__internal_head__": 0.001}).remote())
    if mode != "token" and not open_cluster_allowed():
        ray.shutdown()
        raise ClusterError(
            f"The Ray cluster behind {address} runs without token authentication, so anyone who "
            "can reach it can run code on it: restart it with RAY_AUTH_MODE=token, or set "
            f"{ALLOW_OPEN_ENV}=1 to use it anyway."
        )
