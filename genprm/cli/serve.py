"""`genprm serve`: the verifier over HTTP for RL trainers and search loops."""

from __future__ import annotations

from genprm.backends.base import BackendConfig
from genprm.cli.common import app, say
from genprm.cli.flags import command
from genprm.config import VerifierConfig
from genprm.distributed.ray_config import RayConfig
from genprm.serve.server_config import ServeConfig


@command(app, panels={"backend": "Model", "server": "Server", "ray": "Ray"}, backend=BackendConfig,
         verifier=VerifierConfig, server=ServeConfig, ray=RayConfig)
def serve(backend: BackendConfig, verifier: VerifierConfig, server: ServeConfig, ray: RayConfig) -> None:
    """Serve the verifier over HTTP for RL trainers and search loops: /v1/verify, OpenRLHF's /get_reward, /metrics."""
    from genprm.serve.app import serve as run_server
    from genprm.verifier import Verifier

    if server.host not in ("127.0.0.1", "localhost", "::1") and not server.api_key:
        say(f"warning: serving on {server.host} without --api-key: anyone who reaches it can use it")
    if ray.enabled:  # Ray Serve replicas, each the same engine; the config is resolved once, here
        from genprm.distributed import VerifyJob
        from genprm.registry import resolve
        from genprm.serve.ray_app import serve_on_ray

        serve_on_ray(VerifyJob(backend, resolve(backend.model, verifier)), server, ray)
        return
    the_verifier = Verifier.from_pretrained(backend=backend, config=verifier)
    try:
        run_server(the_verifier, server)
    finally:
        the_verifier.close()
