"""Joining a Ray cluster, or failing within seconds when nothing is there.

`ray.init(address=...)` retries an address with nothing behind it for minutes before it says anything. A cluster's
head (its GCS) answers a gRPC question at once, so one question, a few seconds at most, tells "nothing there" and
"something else there" apart from "a cluster" before Ray is asked.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from genprm.errors import GenPRMError

CONNECT_TIMEOUT_S = 3.0
GCS_PORT, CLIENT_PORT = 6379, 10001  # Ray's defaults: `ray start --head`, and the Ray Client server (ray://)
GCS_QUESTION = "/ray.rpc.NodeInfoGcsService/GetClusterId"  # the first call every Ray driver makes to a head


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise GenPRMError("--ray needs Ray: pip install 'genprm[ray]'") from None
    return ray


def join(address: str | None, **init_options: Any) -> bool:
    """Join the cluster at `address` (None: $RAY_ADDRESS, else start a local one), unless this process already has.

    Returns True when this call joined (the caller leaves with `ray.shutdown()`), False when Ray was already
    initialised. Raises GenPRMError (one line) when the cluster cannot be reached.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    target = _resolve(ray, address)
    if target:
        probe(target, address)
    # The replicas' own logs (model loading notices) would bury the driver's output: errors come back anyway.
    options = {"log_to_driver": False, "include_dashboard": False, "logging_level": logging.WARNING, **init_options}
    try:
        ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GenPRMError(f"cannot join the Ray cluster at {address or 'a new local one'}: {first_line}") from None
    return True


def probe(target: str, address: str | None = None) -> None:
    """Raise GenPRMError unless a Ray cluster answers at `target` (host:port, or ray://host:port).

    A head's GCS is asked one gRPC question (its cluster id; refusing for want of a token also proves it is
    there). A TCP connect alone is not enough: a proxy or another server may accept it, and Ray then retries
    for minutes. A Ray Client address (ray://) is only connected to.
    """
    client = target.startswith("ray://")
    hostport = target.removeprefix("ray://").split("/")[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        host, port = hostport, str(CLIENT_PORT if client else GCS_PORT)
    host = host.strip("[]")
    named = f"{address} -> {host}:{port}" if address and address != target else f"{host}:{port}"
    why = _tcp(host, int(port)) if client else _gcs(host, int(port))
    if why:
        raise GenPRMError(f"cannot join the Ray cluster at {named}: {why} (tried for {CONNECT_TIMEOUT_S:g} s); "
                          "start one there with `ray start --head`, or fix --ray-address / $RAY_ADDRESS")


def gcs_answers(address: str, timeout: float = 1.0) -> bool:
    """Whether a Ray GCS answers at `address` (host:port) within `timeout` seconds."""
    host, _, port = address.rpartition(":")
    return _gcs(host.strip("[]"), int(port), timeout) is None


def _tcp(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        return "no answer" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__).lower()
    return None


def _gcs(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when a Ray GCS answers at host:port, else why not."""
    import grpc  # Ray's own dependency

    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        channel.unary_unary(GCS_QUESTION)(b"", timeout=timeout)  # an empty request message
    except grpc.RpcError as e:
        code = e.code()  # type: ignore[attr-defined]
        if code == grpc.StatusCode.UNAVAILABLE:  # refused, unreachable, or a server that does not speak gRPC
            return f"no Ray cluster answers there ({(e.details() or '').rsplit(': ', 1)[-1]})"  # type: ignore[attr-defined]
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return "no answer"
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return "something answers there, but not a Ray cluster's GCS"
        # Anything else (UNAUTHENTICATED: the cluster wants its token, which ray.init sends) is a GCS talking.
    finally:
        channel.close()
    return None


def _resolve(ray: Any, address: str | None) -> str | None:
    """The host:port `address` stands for: itself, or for "auto" the cluster `ray start` last started here."""
    if address in (None, "local"):
        return None
    if address == "auto":
        try:
            return ray._private.utils.read_ray_address(None)  # None when there is none (Ray then says so at once)
        except Exception:  # noqa: BLE001 - a private helper: without it Ray resolves "auto" itself
            return None
    return address


def check_resources(ray: Any, replicas: int, cpus_per_replica: float, gpus_per_replica: float) -> None:
    """Fail at once, rather than wait forever for replicas the cluster can never place."""
    have = ray.cluster_resources()
    for kind, per in (("CPU", cpus_per_replica), ("GPU", gpus_per_replica)):
        need = per * replicas
        if need > have.get(kind, 0):
            raise GenPRMError(f"{replicas} replicas x {per:g} {kind}s need {need:g} {kind}s; the cluster has "
                              f"{have.get(kind, 0):g}: lower --replicas or --{kind.lower()}s-per-replica, or add "
                              "nodes")
