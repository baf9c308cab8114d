"""The plain Python API: ``Client`` and ``generate``, on the same engine as the magics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import sys
import threading
import warnings
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .base.text import shown_value
from .config import settings as config
from .config.settings import ARGUMENT, Layer, Settings, overlay
from .engine.elements import ELEMENT_PRIOR_SECONDS
from .engine.job import Job
from .engine.polling import Expectation, PollPolicy, StatusRequestRate, expectation, prior_seconds
from .engine.registry import JobRegistry
from .engine.runner import RunContext, run_job
from .errors import KirinError, ValidationError
from .model import spec
from .model.elements import Element
from .model.quote import Quote
from .model.request import (
    GenerationRequest,
    RequestOptions,
    build_request,
    check_option_names,
    request_from_summary,
)
from .money.budget import Budget, Limit, checked_limit, limits_of
from .money.prices import Prices
from .service.dialects import parse_protocols
from .service.http import GatewayHTTP, Limits, RetryPolicy
from .service.protocol import BodyStyle, Endpoint, check_body_style, host_choice
from .service.uploads import UPLOAD_PATH, Uploads
from .simulator.service import IN_PROCESS_BASE_URL, Routes, SimulatorService
from .storage.host_facts import HostFacts
from .storage.journal import FINAL_STATES, Journal, login_name
from .storage.journals import open_journal

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .batches.batch import Batch, BatchServices
    from .batches.sweep import Sweep, SweepPlan
    from .engine.adaptive import AdaptiveLimit
    from .model.model_doc import ModelDocument, ModelList
    from .storage.model_doc_cache import ModelDocCache

log = logging.getLogger("kirin_jupyter")
T = TypeVar("T")
_log_files: set[Path] = set()
_log_lock = threading.Lock()


class _QuietFileHandler(logging.FileHandler):
    """A log file that, when it cannot be written (a full disk), says so once on stderr
    and then drops lines quietly: logging's default printed a traceback for every line
    (328 lines for one job on a full KIRIN_HOME)."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        problem = sys.exc_info()[1]
        print(f"kirin: cannot write {self.baseFilename} ({problem}); job log lines are "
              "dropped from now on (jobs go on)", file=sys.stderr)


def _log_to_file(home: Path) -> None:
    """Job lifecycle lines go to KIRIN_HOME/kirin.log (never a key: none is ever logged)."""
    path = home / "kirin.log"
    with _log_lock:
        if path in _log_files:
            return
        try:
            home.mkdir(parents=True, exist_ok=True)
            handler = _QuietFileHandler(path, encoding="utf-8")
        except OSError as exc:
            _log_files.add(path)  # said once
            print(f"kirin: no job log: cannot write {path} ({exc.strerror or exc})",
                  file=sys.stderr)
            return
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)
        _log_files.add(path)


def _warn_if_plain_http(url: str) -> None:
    """A key sent over plain http to another machine can be read on the way."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme.lower() == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        warnings.warn(f"kirin: the API key goes to {host} over plain http, where anyone on "
                      "the way can read it; use https://", UserWarning, stacklevel=3)


def _checked_max_cost(value: Decimal | float | str | None) -> Decimal | None:
    """A budget in USD, or None for no limit; anything else is one clear error."""
    return checked_limit(value, "max_cost", "USD")


def _request_deadline(settings: Settings) -> float:
    """One request's deadline, body included: ``request_seconds``, but never longer than
    the job's ``timeout`` unless ``request_seconds`` was set on purpose (a dripping answer
    held a ``Client(timeout=5)`` job for the default 300 s)."""
    if settings.source("request_seconds") != config.DEFAULT:
        return settings.request_seconds
    return min(settings.request_seconds, settings.timeout)


def _checked_key(key: str | None) -> str | None:
    """Strip the key (one read from a file often ends in a newline); refuse one that cannot
    be an HTTP header, without ever showing it."""
    if key is None:
        return None
    key = key.strip()
    if not key:
        return None
    if not key.isascii() or not key.isprintable():
        raise KirinError(
            "the API key contains characters that cannot be sent in an HTTP header "
            "(a line break or a non-ASCII letter?); check KIRIN_API_KEY"
        )
    return key


def checked_provenance(level: str | None) -> str | None:
    """A provenance level as given (None: the setting's), or ``ValidationError``."""
    if level is not None and level not in config.PROVENANCE_LEVELS:
        raise ValidationError(f"provenance = {level!r}: choose one of: "
                              f"{', '.join(config.PROVENANCE_LEVELS)}")
    return level


class Client:
    """A connection to the Kirin service, or to the built-in simulator when no key is set.

    Which service: an explicit ``base_url`` (or ``KIRIN_BASE_URL``: ``vtrix``,
    ``seacloud`` or a URL) is used with the key if there is one; a key alone goes to
    ``https://cloud.vtrix.ai``, the host of the documentation the model pages come from;
    with neither a key nor a base URL, the in-process simulator answers (every job then
    shows a "simulator" badge). Nothing is sent until a job (or a quote) asks.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        output_dir: str | Path | None = None,
        *,
        create_path: str | None = None,
        task_path: str | None = None,
        quote_path: str | None = None,
        body_style: BodyStyle | None = None,
        element_body: str | None = None,
        upload_references: str | None = None,
        upload_url: str | None = None,
        protocol: str | dict[str, str] | None = None,
        provenance: str | None = None,
        timeout: float | None = None,
        max_cost: Decimal | float | str | None = None,
        max_credits: Decimal | float | str | None = None,
        create_resends: int | None = None,
        limits: Limits | None = None,
        simulator: SimulatorService | None = None,
        poll_policy: PollPolicy | None = None,
        home: str | Path | None = None,
        settings: Settings | None = None,
        registry: JobRegistry | None = None,
    ) -> None:
        """Arguments left out come from the session's resolved settings (``settings``, or
        the files, the environment and ``%config Kirin``); those given win over them."""
        explicit: dict[str, Any] = {
            "base_url": base_url, "create_path": create_path, "task_path": task_path,
            "quote_path": quote_path, "body_style": body_style, "timeout": timeout,
            "element_body": element_body,
            "upload_references": upload_references, "upload_url": upload_url,
            "protocol": protocol, "provenance": provenance,
            "create_resends": create_resends,
            "output_dir": None if output_dir is None else str(output_dir),
        }
        if max_cost is not None:
            checked = _checked_max_cost(max_cost)
            explicit["max_cost"] = float(checked) if checked is not None else 0.0
        credits = checked_limit(max_credits, "max_credits", "credits")
        if max_credits is not None:
            explicit["max_credits"] = float(credits or 0)
        if body_style is not None:
            check_body_style(body_style)
        if settings is None:  # the session's (files, environment, %config Kirin)
            from .config.current import current_settings

            settings = current_settings()
        base = overlay(settings, Layer({k: v for k, v in explicit.items() if v is not None},
                                       ARGUMENT))
        self._explicit_max_cost = _checked_max_cost(max_cost)  # exact, as given
        self._explicit_max_credits = credits
        self._explicit_limits = limits
        self._fixed_simulator = simulator
        self.simulator: SimulatorService | None = None
        self._api: GatewayHTTP | None = None
        self.uploads: Uploads | None = None  # set by apply()
        self._api_target: tuple[Any, ...] | None = None
        home = Path(home) if home else config.kirin_home()
        self.home = home
        self.journal: Journal = open_journal(home, base.journal_url, base.user)
        _log_to_file(home)
        self.prices = Prices(self.journal)  # quotes and estimates, per connection
        # (external id, task id, owner) of jobs the last resume() left to a live kernel
        self.held_elsewhere: list[tuple[str, str | None, str]] = []
        # (external id, task id) of simulated jobs the last resume() found gone with the
        # process that made them: the built-in simulator keeps its tasks in memory only
        self.simulated_lost: list[tuple[str, str | None]] = []
        self._policy = poll_policy or PollPolicy()
        self.stream_silence = 30.0  # seconds a task stream may send nothing (then: poll)
        self._status_rate = StatusRequestRate(self._policy.max_rate, self._policy.burst)
        self.registry = registry if registry is not None else JobRegistry()
        self.batches: list[Batch] = []  # started (or resumed) by this client
        self.resumed_batches: list[Batch] = []  # what the last resume() took up again
        # external ids of jobs whose results the last resume() stored in shared storage,
        # an earlier upload having failed
        self.stored_late: list[str] = []
        self._lock = threading.RLock()
        self.budget = Budget(self._limits, self.registry, self.prices, self._lock)
        self.apply(base, api_key)

    def apply(self, settings: Settings, api_key: str | None = None) -> None:
        """Take new settings in place (``%config Kirin`` does this to the session's client).

        A new key, service URL or route builds a new connection; the old one is closed
        once the jobs that use it are done. Jobs already running keep their own timeout.
        """
        key = _checked_key(api_key or config.api_key_from_env())
        url, self.host_reason = host_choice(settings.base_url, settings.source("base_url"),
                                            key is not None)
        simulated = self._fixed_simulator is not None or url is None
        if self._fixed_simulator is not None:
            self.host_reason = "a simulator given to this client"
        routes = (settings.create_path, settings.task_path, settings.quote_path,
                  check_body_style(settings.body_style))
        target = ("simulator" if simulated else url, None if simulated else key, *routes)
        with self._lock:
            if target != self._api_target:
                self._connect(key, url, simulated, routes)
                self._api_target = target
            self.settings = settings
            self.journal.user = settings.user or login_name()  # %config Kirin.user too
            self.output_dir, self.output_url = _output_folder(
                settings.output_dir or config.DEFAULT_OUTPUT_DIR)
            self.timeout = settings.timeout
            self.max_cost = self._explicit_max_cost if settings.source("max_cost") == \
                ARGUMENT else _checked_max_cost(settings.max_cost)
            api = self.api
            api.limits = self._explicit_limits or Limits(
                result_bytes=round(settings.max_result_mb * 1e6),
                answer_bytes=round(settings.max_answer_mb * 1e6),
                result_pixels=round(settings.max_result_megapixels * 1e6),
                request_seconds=_request_deadline(settings),
            )
            api.retry = RetryPolicy(resend_unanswered=max(0, settings.create_resends))
            self._set_uploads(settings, simulated, key)

    def _set_uploads(self, settings: Settings, simulated: bool, key: str | None) -> None:
        """Where references are uploaded once, if at all (``upload_references``): the
        in-process simulator's own storage route when simulated (nothing leaves the
        process), else ``upload_url``, the only host besides the service that sees the key."""
        upload_url = IN_PROCESS_BASE_URL + UPLOAD_PATH if simulated else settings.upload_url
        if settings.upload_references != "never" and key is not None and not simulated:
            _warn_if_plain_http(upload_url)
        if self.uploads is None:
            self.uploads = Uploads(self.api, self.journal, settings.upload_references,
                                   upload_url)
        else:
            self.uploads.configure(self.api, settings.upload_references, upload_url)

    def _connect(self, key: str | None, url: str | None, simulated: bool,
                 routes: tuple[str, str, str, BodyStyle]) -> None:
        transport = None
        if simulated:
            from .simulator.transport import SimulatorTransport

            if self.simulator is None:
                self.simulator = self._fixed_simulator or SimulatorService(
                    task_seconds=config.simulator_seconds())
            if self._fixed_simulator is None:  # the same paths a service has
                self.simulator.routes = Routes(*routes)
            transport = SimulatorTransport(self.simulator)
            url = IN_PROCESS_BASE_URL
        else:
            self.simulator = None
            assert url is not None
            if key is not None:
                _warn_if_plain_http(url)
        assert url is not None
        old = self._api
        self._api = GatewayHTTP(Endpoint(url, *routes), key, transport=transport)
        self._api.facts = HostFacts(url, self.journal)  # what this host was seen to do
        self.prices.connect(self._api)
        if old is not None:
            self._close_when_idle(old)

    def _close_when_idle(self, api: GatewayHTTP) -> None:
        """Close a connection that is no longer used, after the jobs still on it end."""
        from .engine.loop import get_engine

        running = self.registry.unfinished()

        async def close() -> None:
            for job in running:
                with contextlib.suppress(BaseException):
                    await asyncio.wrap_future(job._future)
            await api.aclose()

        if api.is_open() or running:
            get_engine().submit(close())

    @property
    def api(self) -> GatewayHTTP:
        assert self._api is not None
        return self._api

    @property
    def base_url(self) -> str:
        return self.api.endpoint.base_url

    @property
    def simulated(self) -> bool:
        return self.simulator is not None

    @property
    def jobs(self) -> list[Job]:
        """This client's jobs; for the session's client, every job of the session."""
        return self.registry.all()

    def __repr__(self) -> str:
        where = "simulator" if self.simulated else self.base_url
        return f"Client({where}, output_dir={self.output_location!r})"

    @property
    def output_location(self) -> str:
        """Where results are kept: the folder, or the shared storage URL it mirrors."""
        return self.output_url or str(self.output_dir)

    def redact(self, text: str) -> str:
        return self.api.redact(text)

    def build(self, prompt: Any, **options: Unpack[RequestOptions]) -> GenerationRequest:
        """Validate options into a request without sending anything (used by --dry-run);
        options that are None or left out take the settings' defaults (``build_request``
        refuses a misspelt one)."""
        given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        defaults = self.settings
        given.setdefault("model", defaults.default_model)
        given.setdefault("n", defaults.n)
        if _takes_resolution(given["model"]):  # kirin_v2_image takes none
            given.setdefault("resolution", defaults.resolution)
        if defaults.aspect_ratio:
            given.setdefault("aspect_ratio", defaults.aspect_ratio)
        if given.get("elements") is not None:  # names of journaled elements -> their ids
            given["elements"] = self.element_ids(given["elements"])
        if given.get("images") is not None:  # earlier results: their files and parents
            from .lineage import resolve_images

            given["images"] = resolve_images(given["images"], self.journal,
                                             fit=bool(given.get("fit")))
        return build_request(prompt, **given)

    def generate(self, prompt: Any, *, provenance: str | None = None,
                 **options: Unpack[RequestOptions]) -> Job:
        """Validate, then start the job in the background and return it at once.

        The options are ``RequestOptions``: ``model``, ``n``, ``resolution``,
        ``aspect_ratio``, ``images``, ``negative_prompt``, ``elements``, ``watermark``,
        ``callback_url``, ``external_task_id``, ``fit``, ``extra_params`` (fields the pages
        do not list, sent inside params as given). Those left out take the settings'
        defaults (``default_model``, ``n``, ``resolution``, ``aspect_ratio``). Raises
        ``ValidationError`` (nothing sent) when an option breaks a documented rule.
        ``provenance`` (full, minimal, off) overrides the setting for this job's files.
        """
        level = checked_provenance(provenance)
        return self.submit(self.build(prompt, **options), provenance=level)

    def submit(self, request: GenerationRequest, *, provenance: str | None = None) -> Job:
        """Start a job for an already validated request.

        Raises ``ValidationError`` for an external id this journal has seen (ids must be
        unique; reusing one would return, or overwrite, another job's result) and
        ``BudgetExceeded`` past ``max_cost``; nothing is sent then.
        """
        try:
            earlier = self.journal.get(request.external_task_id)
        except (sqlite3.Error, OSError) as exc:
            raise KirinError(
                f"the journal {self.journal.where} cannot be used ({exc}); nothing was sent. "
                "Move it aside (or set KIRIN_HOME to a writable folder) and try again"
            ) from None
        if earlier is not None:
            raise ValidationError(
                f"external task id {request.external_task_id!r} was already used "
                f"(task {earlier.get('task_id') or 'not created'}); ids must be unique: "
                "leave it out to get a fresh one"
            )
        level = checked_provenance(provenance)
        quote = self.quote_request(request) if self._limits() else None
        with self._lock:  # check and register together: two threads cannot both pass
            self.budget.check_job(request, quote)
            job = self._new_job(request)
            job.quote = quote
            job.provenance = level
            self.registry.add(job)
        self._start(job, self.output_dir, resume=False, output_url=self.output_url)
        return job

    def _new_job(self, request: GenerationRequest) -> Job:
        return Job(request, expected=self.expect(request), simulated=self.simulated)

    def expect(self, request: GenerationRequest) -> Expectation:
        """How long this request should take: this user's history, else a prior."""
        if self.simulator is not None:  # the in-process simulator knows its own pace
            prior = self.simulator.task_seconds * (1 + 0.1 * (request.images_expected - 1))
        else:
            prior = prior_seconds(request.model.name, request.resolution, request.images_expected)
        history = self.journal.durations(request.model.name, request.resolution,
                                         request.images_expected)
        found = expectation(history, prior)
        if not found.learned and self.simulator is not None:
            return Expectation.around(prior, 0.1)
        return found

    def _start(self, job: Job, output_dir: Path, *, resume: bool,
               output_url: str | None = None) -> None:
        from .engine.loop import get_engine

        context = self.run_context(output_dir, output_url)
        self.adopt(job)
        get_engine().submit(run_job(job, context, resume=resume))

    def run_context(self, output_dir: Path | None = None, output_url: str | None = None, *,
                    gate: AdaptiveLimit | None = None) -> RunContext:
        """What this client's jobs share: connection, journal, status-request rate (and a
        batch's concurrency gate)."""
        return RunContext(self.api, self.journal, output_dir or self.output_dir,
                          self._policy, self.timeout, status_rate=self._status_rate,
                          quote=self.prices.ask, gate=gate,
                          stream_silence=self.stream_silence, uploads=self.uploads,
                          protocols=parse_protocols(self.settings.protocol),
                          provenance=self.settings.provenance,
                          reserve=self._team_reserve(),
                          output_url=self.output_url if output_dir is None else output_url)

    def _team_reserve(self) -> Callable[[Job], Coroutine[Any, Any, None]] | None:
        """The team budget's reservation step, when the journal is shared and has one."""
        limit = self.settings.team_max_cost
        if not limit or self.journal.dialect != "postgresql":
            return None
        from .money.team_budget import TeamBudget
        from .storage.journal_pg import PgJournal

        assert isinstance(self.journal, PgJournal)
        return TeamBudget(self.journal, Decimal(str(limit)), self.settings.team_budget_period,
                          self.prices).reserve

    def adopt(self, job: Job) -> None:
        """Count ``job`` as one of this client's (job list, budget, ``%kirin wait``)."""
        from .engine.loop import get_engine

        self.registry.add(job)
        get_engine().register(job)

    # -- elements (subjects for element_list) ---------------------------------------------

    def create_element(self, name: str, description: str = "", frontal_image: Any = None,
                       refer_images: Any = None, *, tags: Any = None,
                       element_body: str | None = None, external_task_id: str | None = None,
                       timeout: float | None = None) -> Element:
        """Make a subject with ``kirin_custom_elements`` and wait for its id.

        ``frontal_image`` and 1-3 ``refer_images`` (each a different picture) take what
        ``images=`` takes; ``tags``: ids ``o_101``-``o_108`` or their names ("Character").
        The element is journaled, so ``elements=["NAME"]`` (``--element NAME``) finds it
        later. ``element_body`` overrides the setting of that name (which page version's
        body is sent). Raises ``ValidationError`` (nothing sent), ``BudgetExceeded``
        (nothing sent) or a one-line ``KirinError``. A paid task, like a job.
        """
        from .engine.elements import ElementRun, make_element
        from .engine.loop import get_engine
        from .model.elements import build_element_request

        version = element_body if element_body is not None else self.settings.element_body
        request = build_element_request(name, description, frontal_image, refer_images,
                                        tags=tags, body_version=version,
                                        external_task_id=external_task_id)
        if self.journal_knows(request.external_task_id):
            raise ValidationError(f"external task id {request.external_task_id!r} was "
                                  "already used; leave it out to get a fresh one")
        api, engine = self.api, get_engine()
        wait = self.timeout if timeout is None else timeout
        if self._limits():
            answer = engine.submit(api.quote(request)).result(30.0)
            quote = None if answer is None or answer.cost is None else \
                Quote(answer.cost, answer.currency, answer.discount, "service")
            self.budget.check_price(quote, f"the element {request.name!r}")
        run = ElementRun(api, self.journal, wait, self._policy,
                         expected_seconds=self.simulator.task_seconds
                         if self.simulator is not None else ELEMENT_PRIOR_SECONDS,
                         status_rate=self._status_rate)
        element, final = engine.submit(make_element(request, run)).result(wait + 60.0)
        if final.cost is not None:
            with self._lock:
                self.budget.other_spent += final.cost
        return element

    def journal_knows(self, external_id: str) -> bool:
        """Has this journal seen ``external_id`` (a job's or an element's)?"""
        return self.journal.get(external_id) is not None or \
            self.journal.get_element(external_id) is not None

    def elements(self) -> list[Element]:
        """The elements this service made for this journal, newest first."""
        from .model.elements import element_from_row

        found = []
        for row in self.journal.elements(self.base_url):
            element = element_from_row(row)
            if element is not None:
                found.append(element)
        return found

    def element_ids(self, values: Any) -> list[Any]:
        """``elements=`` with names of journaled elements replaced by their exact ids;
        ids (numbers, digit strings, ``{"element_id": ...}``) pass as given. An unknown
        name is one ``ValidationError`` listing the known ones; nothing is sent."""
        from .model.elements import resolve_element_names

        items = values if isinstance(values, (list, tuple)) else [values]
        if not any(isinstance(item, str) and not item.strip().isdigit() for item in items):
            return list(items)
        return resolve_element_names(items, self.elements())

    # -- batches -------------------------------------------------------------------------

    def batch(self, prompts: Any, *, name: str | None = None,
              concurrency: int | None = None, **options: Any) -> Batch:
        """Start many generations as one batch and return it at once.

        ``prompts``: a list of prompts, an iterable of dicts of per-item options (each with
        its ``prompt``), a pandas DataFrame with such columns, or a ``pathlib.Path`` to a
        ``.txt`` or ``.csv`` file (as ``%kirin batch FILE`` reads it; one line says what
        was read before anything is priced); ``options`` are the
        defaults of every item. ``name`` makes it resumable by name: running the same
        batch again after a crash follows or reuses what was bought and creates only the
        rest (unnamed batches are resumed by ``resume()``). ``concurrency`` caps how many
        tasks run at once (it adapts below that to the service's "busy" answers).
        Every item is checked, the whole batch priced and checked against ``max_cost``
        before the first create: ``ValidationError`` / ``BudgetExceeded``, nothing sent.
        """
        from .batches.items import items_from, read_file
        from .batches.setup import open_batch

        check_option_names(options)
        if options.get("external_task_id"):
            raise ValidationError("a batch names its items itself (NAME-00001, ...): give "
                                  "name= instead of external_task_id")
        if isinstance(prompts, os.PathLike):
            items, said = read_file(prompts)
            print(said)  # before anything is priced: what was read, as items
        else:
            items = items_from(prompts)
        batch = open_batch(self.batch_services(), items, name=name, concurrency=concurrency,
                           common=options)
        if batch not in self.batches:  # not when it was running here already
            self.batches.append(batch)
        return batch

    def batch_services(self) -> BatchServices:
        """What batch code is handed (it never holds this client): journal, builder,
        prices, budget, run context, as they stand now."""
        from .batches.batch import BatchServices

        return BatchServices(
            journal=self.journal, base_url=self.base_url, output_dir=self.output_dir,
            simulator=self.simulator, max_sweep_cells=self.settings.max_sweep_cells,
            build=self.build, prices=self.prices, budget=self.budget,
            run_context=lambda gate: self.run_context(gate=gate), expect=self.expect,
            adopt=self.adopt, keep=self.batches.append, running=self.batches)

    # -- sweeps --------------------------------------------------------------------------

    def sweep(self, prompt: Any, *, name: str | None = None, concurrency: int | None = None,
              **options: Any) -> Sweep:
        """Every combination of the values given as lists (``model=["omni", "v3"]``,
        ``aspect_ratio=["1:1", "16:9"]``) and of the prompt's ``{a|b}`` alternatives, run
        as one batch and shown as a grid labelled by those values.

        Every cell is built, the total priced and checked against ``max_cost`` before the
        first create: ``ValidationError`` naming a bad combination, or ``BudgetExceeded``;
        nothing sent. ``plan_sweep`` shows the plan and its price without sending.
        """
        from .batches.sweep import plan_and_start

        return plan_and_start(self.batch_services(), prompt, options, name=name,
                              concurrency=concurrency)

    def plan_sweep(self, prompt: Any, *, name: str | None = None,
                   **options: Any) -> SweepPlan:
        """What ``sweep`` would send: one row per cell (its values, its price), the total,
        and whether it fits the budget. Nothing is created (a price quote creates nothing)."""
        from .batches.sweep import make_plan

        return make_plan(self.batch_services(), prompt, options, name=name)

    # -- money: prices and the budget live in money/; these are the public names ----------

    def quote(self, prompt: Any, **options: Any) -> Quote:
        """What ``generate(prompt, **options)`` would cost; nothing is created or billed.

        The service's own quote (its precharge route) when it has one, else an estimate
        from earlier jobs of the same model and resolution (``Quote.source`` says which).
        Raises ``ValidationError`` for a request that breaks a rule, like ``generate``.
        """
        return self.quote_request(self.build(prompt, **options))

    def quote_request(self, request: GenerationRequest, timeout: float = 30.0) -> Quote:
        """``quote`` for an already validated request (blocks on the engine loop)."""
        return self.prices.quote(request, timeout)

    def price_hint(self, request: GenerationRequest,
                   on_quote: Callable[[Quote], None] | None = None) -> Quote:
        """A price to show at once; a quote asked in the background (``Prices.hint``)."""
        return self.prices.hint(request, on_quote)

    async def quote_async(self, request: GenerationRequest) -> Quote:
        """The quote, on the engine loop; one question per price kind (``Prices.ask``)."""
        return await self.prices.ask(request)

    def estimate_quote(self, request: GenerationRequest) -> Quote:
        """The price from what the same model and resolution cost before on this service."""
        return self.prices.estimate(request)

    def estimate_cost(self, request: GenerationRequest) -> Decimal | None:
        """That estimate's figure; None until one such job has finished."""
        return self.prices.estimate_cost(request)

    def service_currency(self) -> str | None:
        """The currency of this service's quotes, None while not known."""
        return self.prices.currency()

    def last_service_quote(self, request: GenerationRequest) -> Quote | None:
        """The service's last quote for requests of this kind on this connection."""
        return self.prices.last_service_quote(request)

    def session_spend(self) -> Decimal:
        """What this client's finished jobs cost (as reported by the service)."""
        return self.budget.spent()

    def check_budget(self, request: GenerationRequest, quote: Quote | None = None) -> None:
        """Refuse a job that could take the session past ``max_cost`` or ``max_credits``;
        nothing is sent (``Budget.check_job`` says how)."""
        self.budget.check_job(request, quote)

    def check_batch_budget(self, requests: list[GenerationRequest],
                           quotes: list[Quote | None], *, what: str = "batch") -> None:
        """Refuse a whole batch before its first create when it could pass a limit, or
        when its price is not known (``Budget.check_batch``)."""
        self.budget.check_batch(requests, quotes, what=what)

    @property
    def max_credits(self) -> Decimal | None:
        """The budget in the service's credits (``max_credits``), or None for no limit."""
        if self.settings.source("max_credits") == ARGUMENT:
            return self._explicit_max_credits
        return checked_limit(self.settings.max_credits, "max_credits", "credits")

    def _limits(self) -> list[Limit]:
        """The limits now (``max_cost`` may be set on the client, or by ``%config``)."""
        return limits_of(self.max_cost, self.max_credits)

    # -- after a restart -----------------------------------------------------------------

    def doctor(self, timeout: float = 60.0) -> dict[str, Any]:
        """Check this client's host and key at no cost (``host_check.examine``): the answers,
        as a dict, are also kept in the journal for this host, where the client uses them.
        Creates no task."""
        from .engine.loop import get_engine
        from .service.host_check import as_dict, examine

        checks = get_engine().submit(examine(self.api)).result(timeout)
        for check in checks:
            if check.answer != "unknown":
                self.api.facts.learn(check.name, check.answer)
            if check.name == "precharge_route":
                self.prices.learned_precharge(check.answer)
        return as_dict(checks, "built-in simulator" if self.simulated else self.base_url,
                       self.host_reason)

    def model_doc(self, model: str, *, refresh: bool = False) -> ModelDocument:
        """The gateway's own parameter document for ``model`` (Markdown), and which of its
        parameters kirin-jupyter does not know yet (``.coverage``). Kept in
        ``KIRIN_HOME/model_docs`` for a day: asked again only after that, or ``refresh``.
        A failed fetch raises one ``KirinError`` line."""
        from .model.model_doc import ModelDocument, checked_model_name
        from .service.model_docs import fetch_document

        name = checked_model_name(model)
        cache, host = self._doc_cache()
        found = None if refresh else cache.read(f"{name}.md")
        if found is not None:
            return ModelDocument(name, found.body.decode("utf-8", "replace"), host,
                                 found.fetched_at, cached=True)
        text = self._fetch(fetch_document(self.api, name))
        self._keep(cache, f"{name}.md", text.encode("utf-8"))
        return ModelDocument(name, text, host)

    def model_list(self, *, refresh: bool = False) -> ModelList:
        """The models the gateway lists for a search for "kirin", beside the spec table;
        cached for a day like ``model_doc``."""
        from .model.model_doc import ModelList
        from .service.model_docs import SEARCH_QUERY, fetch_search, parse_hits

        name = f"search-{SEARCH_QUERY}.json"
        cache, host = self._doc_cache()
        found = None if refresh else cache.read(name)
        if found is not None:
            with contextlib.suppress(ValueError, KirinError):
                hits = parse_hits(json.loads(found.body))
                return ModelList(SEARCH_QUERY, tuple(hits), host, found.fetched_at,
                                 cached=True)
        body = self._fetch(fetch_search(self.api, SEARCH_QUERY))
        self._keep(cache, name, body)
        return ModelList(SEARCH_QUERY, tuple(parse_hits(json.loads(body))), host)

    def _doc_cache(self) -> tuple[ModelDocCache, str]:
        from .service.model_docs import DOC_BYTES
        from .storage.model_doc_cache import ModelDocCache

        host = "built-in simulator" if self.simulated else self.base_url
        return ModelDocCache(self.home, self.base_url, max_bytes=DOC_BYTES), host

    def _fetch(self, work: Coroutine[Any, Any, T]) -> T:
        """Run one bounded request on the engine loop and wait for it."""
        import concurrent.futures

        from .engine.loop import get_engine
        from .errors import ServiceUnavailable
        from .service.model_docs import DOC_SECONDS

        future = get_engine().submit(work)
        try:
            return future.result(DOC_SECONDS + 10)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ServiceUnavailable(f"no answer within {DOC_SECONDS:g} s") from None

    @staticmethod
    def _keep(cache: ModelDocCache, name: str, body: bytes) -> None:
        try:
            cache.write(name, body)
        except OSError as exc:  # shown anyway; asked again next time
            log.warning("could not keep the model document %s in %s: %s", name,
                        cache.folder, exc.__class__.__name__)

    def resume(self, *, steal: bool = False) -> list[Job]:
        """Follow every job of this service that no running process follows any more.

        Unfinished tasks are polled again, completed ones are downloaded (again, if a file
        is missing), and a job the service does not list is reported as such. Results an
        upload failed to put in shared storage are stored now (``stored_late``). Nothing is
        created: resuming never costs money. Jobs are claimed in the journal atomically, so
        two kernels resuming at once never follow the same job; jobs another live kernel
        holds are left to it (``held_elsewhere`` says which) unless ``steal``. Tasks of the
        built-in simulator that ended with their process are not followed
        (``simulated_lost`` says which).
        """
        from .batches.setup import resume_batches
        from .engine.loop import get_engine
        from .storage.shared_results import store_pending

        # Results an upload failed to store: stored now, and named by their URLs.
        self.stored_late = [] if self.output_url is None else \
            store_pending(self.journal, self.output_dir, self.output_url)

        # Batches first: their items in flight become live jobs here, skipped below.
        self.resumed_batches = resume_batches(self.batch_services())
        self.batches.extend(self.resumed_batches)
        live = frozenset(j.external_task_id for j in get_engine().running())
        claimed, held = self.journal.claim_unfinished(self.base_url, steal=steal, skip=live)
        self.held_elsewhere = [(row["external_id"], row["task_id"], row["owner"])
                               for row in held]
        claimed = self._drop_lost_simulated(claimed)
        earlier = {j.external_task_id: j for j in self.jobs}  # quotes carry over
        jobs = []
        for row in claimed:
            request = request_from_summary(json.loads(row["request"]), row["external_id"])
            job = self._new_job(request)
            job.task_id = row["task_id"]
            before = earlier.get(row["external_id"])
            job.quote = before.quote if before is not None and before.quote is not None \
                else self.prices.estimate(request)
            folder, url = self._resumed_into(row.get("output_dir"))
            self._start(job, folder, resume=True, output_url=url)
            jobs.append(job)
        return jobs

    def _resumed_into(self, recorded: str | None) -> tuple[Path, str | None]:
        """Where a resumed job's files go: the folder its row names, or this client's
        shared storage when the row names that; a row (untrusted: any teammate wrote it)
        naming other shared storage never chooses where this kernel uploads."""
        if not recorded or recorded == self.output_url:
            return self.output_dir, self.output_url
        if "://" in recorded:  # shared storage, and what no folder is
            log.info("a resumed job named %s; its files go to %s", shown_value(recorded),
                     self.output_location)
            return self.output_dir, self.output_url
        return Path(recorded), None

    def _drop_lost_simulated(self, claimed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The in-process simulator's tasks die with the kernel that made them: asking for
        one after a restart can only answer "not found". Such jobs are not followed; their
        journal rows say why (so they are not claimed again) and ``simulated_lost`` lists
        them for the caller to explain once."""
        self.simulated_lost = []
        if self.simulator is None:
            return claimed
        kept = []
        for row in claimed:
            ident = row["task_id"] or row["external_id"]
            if self.simulator.knows(ident):
                kept.append(row)
                continue
            self.simulated_lost.append((row["external_id"], row["task_id"]))
            if row["status"] not in FINAL_STATES:
                self.journal.record_state(row["external_id"], "failed",
                                          detail=SIMULATED_TASK_GONE)
        return kept

    def close(self) -> None:
        """Close the HTTP connections (jobs still running will fail)."""
        from .engine.loop import get_engine

        get_engine().submit(self.api.aclose()).result(timeout=10)


SIMULATED_TASK_GONE = (
    "a simulated task lives only in the kernel process that made it; that process has "
    "ended, so the task cannot be resumed (run the cell again: the simulator is free)"
)


def _takes_resolution(model: Any) -> bool:
    """Whether ``model`` takes a resolution (an unknown name: yes, and build_request says
    what is wrong with it)."""
    try:
        return bool(spec.resolve_model(str(model)).resolutions)
    except KeyError:
        return True


def _output_folder(output_dir: str) -> tuple[Path, str | None]:
    """The local folder for an ``output_dir`` and the shared storage URL it mirrors, if
    any (checked to be usable here: a missing ``[shared]`` extra is one line before
    anything is sent). A local folder inside the mirror is refused: it would pass for
    shared storage."""
    from .storage.shared_results import filesystem, in_the_cache, is_shared, working_folder

    folder = working_folder(output_dir)
    if is_shared(output_dir):
        filesystem(output_dir)
        return folder, output_dir.rstrip("/")
    if in_the_cache(folder):
        raise ValidationError(f"output_dir {str(folder)!r} is inside the cache of shared "
                              "results; choose another folder")
    return folder, None
