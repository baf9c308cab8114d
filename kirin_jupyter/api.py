"""The plain Python API: ``Client`` and ``generate``, on the same engine as the magics."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from . import settings
from .client import Endpoint, KirinAPI
from .errors import KirinError
from .job import Job
from .polling import PollPolicy, prior_seconds
from .request import GenerationRequest, build_request
from .runner import RunContext, run_job
from .simulator.service import IN_PROCESS_BASE_URL, SimulatorService
from .store import Journal


class Client:
    """A connection to the Kirin service, or to the built-in simulator when no key is set.

    Which service: an explicit ``base_url`` (or ``KIRIN_BASE_URL``) is used as given, with
    the key if there is one; with neither a key nor a base URL, the in-process simulator
    answers (every job then shows a "simulator" badge). A key without a base URL is an error:
    the API documents name no public host.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        output_dir: str | Path | None = None,
        *,
        create_path: str = settings.DEFAULT_CREATE_PATH,
        task_path: str = settings.DEFAULT_TASK_PATH,
        timeout: float = settings.DEFAULT_JOB_TIMEOUT,
        simulator: SimulatorService | None = None,
        poll_policy: PollPolicy | None = None,
    ) -> None:
        key = api_key or settings.env_api_key()
        url = base_url or settings.env_base_url()
        transport = None
        self.simulator: SimulatorService | None = None
        if simulator is not None or (key is None and url is None):
            from .simulator.transport import SimulatorTransport

            self.simulator = simulator or SimulatorService(
                task_seconds=settings.simulator_seconds()
            )
            transport = SimulatorTransport(self.simulator)
            url = IN_PROCESS_BASE_URL
        elif url is None:
            raise KirinError(
                "KIRIN_API_KEY is set but no base URL: set KIRIN_BASE_URL (or pass base_url=)"
            )
        assert url is not None
        self.output_dir = Path(output_dir) if output_dir else settings.output_dir()
        self.journal = Journal(settings.kirin_home() / "journal.sqlite3")
        self._api = KirinAPI(Endpoint(url, create_path, task_path), key, transport=transport)
        self._policy = poll_policy or PollPolicy()
        self.timeout = timeout
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self._api.endpoint.base_url

    @property
    def simulated(self) -> bool:
        return self.simulator is not None

    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.base_url
        return f"Client({where}, output_dir={str(self.output_dir)!r})"

    def redact(self, text: str) -> str:
        return self._api.redact(text)

    def build(self, prompt: Any, **options: Any) -> GenerationRequest:
        """Validate options into a request without sending anything (used by --dry-run)."""
        return build_request(prompt, **options)

    def generate(
        self,
        prompt: str,
        *,
        model: str = "kirin_image_omni",
        n: int = 1,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        images: Any = None,
        negative_prompt: str | None = None,
        elements: Any = None,
        watermark: bool | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        fit: bool = False,
    ) -> Job:
        """Validate, then start the job in the background and return it at once.

        Raises ``ValidationError`` (nothing sent) when an option breaks a documented rule.
        """
        request = build_request(
            prompt, model=model, n=n, resolution=resolution, aspect_ratio=aspect_ratio,
            images=images, negative_prompt=negative_prompt, elements=elements,
            watermark=watermark, callback_url=callback_url,
            external_task_id=external_task_id, fit=fit,
        )
        return self.submit(request)

    def submit(self, request: GenerationRequest) -> Job:
        """Start a job for an already validated request."""
        from .engine import get_engine

        if self.simulator is not None:
            expected = self.simulator.task_seconds * (1 + 0.1 * (request.n - 1))
        else:
            expected = prior_seconds(request.model.name, request.resolution, request.n)
        job = Job(request, expected_seconds=expected, simulated=self.simulated)
        context = RunContext(self._api, self.journal, self.output_dir, self._policy,
                             self.timeout)
        engine = get_engine()
        with self._lock:
            self._jobs.append(job)
        engine.register(job)
        engine.submit(run_job(job, context))
        return job

    def close(self) -> None:
        """Close the HTTP connections (jobs still running will fail)."""
        from .engine import get_engine

        get_engine().submit(self._api.aclose()).result(timeout=10)


_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The client ``generate()`` and the magics use unless told otherwise."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def set_default_client(client: Client | None) -> None:
    global _default
    with _default_lock:
        _default = client


def generate(prompt: str, **options: Any) -> Job:
    """``default_client().generate(...)``: start a job and return it at once."""
    return default_client().generate(prompt, **options)
