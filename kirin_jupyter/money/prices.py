"""``Prices``: what a request will cost, asked of the service once per kind of request.

The service's quote (its precharge route) is kept per price kind for
``QUOTE_FRESH_SECONDS``, and jobs of one kind that start together share one question.
Where the service has no such route, or gives no figure, the price is estimated from what
the same model and resolution cost before on that service (the journal).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from ..model.quote import Quote, estimated, price_kind
from ..storage.journal import price_per_image

if TYPE_CHECKING:
    from ..model.request import GenerationRequest
    from ..service.http import GatewayHTTP
    from ..storage.journal import Journal

log = logging.getLogger("kirin_jupyter")
Kind = tuple[object, ...]

# How long the service's quote for one kind of request is taken as its price.
QUOTE_FRESH_SECONDS = 60.0


class Prices:
    """The prices of one client's connection: its service's quotes, else estimates from
    its journal. ``connect`` points it at a new connection (and forgets the old quotes)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._api: GatewayHTTP | None = None
        self._asks_service = True  # until the service shows it has no precharge route
        self._lock = threading.Lock()
        self._cache: dict[Kind, Quote] = {}  # the service's last quote per kind
        self._quoted_at: dict[Kind, float] = {}  # and when it came
        self._hinting: set[Kind] = set()  # kinds the panel asks about now
        self._in_flight: dict[Kind, asyncio.Future[Quote]] = {}  # on the engine loop only

    def connect(self, api: GatewayHTTP) -> None:
        """A new connection: its quotes are its own, and a host the doctor found without a
        precharge route is not asked for prices."""
        self._api = api
        with self._lock:
            self._asks_service = api.facts.get("precharge_route") != "no"
            self._cache.clear()
            self._quoted_at.clear()

    @property
    def api(self) -> GatewayHTTP:
        assert self._api is not None, "Prices.connect() comes first"
        return self._api

    def learned_precharge(self, answer: str) -> None:
        """What ``%kirin doctor`` found of the precharge route ("yes", "no", "unknown")."""
        with self._lock:
            self._asks_service = answer != "no"

    # -- asking ------------------------------------------------------------------------

    def quote(self, request: GenerationRequest, timeout: float = 30.0) -> Quote:
        """The price of a validated request (blocks on the engine loop); the estimate when
        the service gives none within ``timeout``."""
        from ..engine.loop import get_engine

        if not self._asks_service:
            return self.estimate(request)
        future = get_engine().submit(self.ask(request))
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            log.info("no quote within %g s; estimating the price instead", timeout)
            return self.estimate(request)

    def per_kind(self, requests: list[GenerationRequest]) -> list[Quote | None]:
        """Each request's price, asked once per kind (the words of a prompt do not change
        a price): what a batch or a sweep is priced with, before anything is sent."""
        by_kind: dict[Kind, Quote] = {}
        quotes: list[Quote | None] = []
        for request in requests:
            kind = price_kind(request)
            if kind not in by_kind:
                by_kind[kind] = self.quote(request)
            quotes.append(by_kind[kind])
        return quotes

    def hint(self, request: GenerationRequest,
             on_quote: Callable[[Quote], None] | None = None) -> Quote:
        """A price to show while a form is edited, without waiting: the service's last
        quote for requests of this kind, else the estimate. When the service has not
        quoted this kind yet, a quote is asked for in the background and ``on_quote``
        gets it on a thread of its own: never on the engine loop, which a caller holding
        its own lock may be waiting on."""
        kind = price_kind(request)
        with self._lock:
            cached = self._cache.get(kind)
            asking = cached is None and self._asks_service and kind not in self._hinting
            if asking:
                self._hinting.add(kind)  # one question at a time per kind, however fast
        if not asking:  # the user types
            return cached or self.estimate(request)
        from ..engine.loop import get_engine

        def remember(future: concurrent.futures.Future[Quote]) -> None:
            with self._lock:
                self._hinting.discard(kind)
            if future.cancelled() or future.exception() is not None:
                return
            quote = future.result()
            if quote.source == "service" and on_quote is not None:  # kept by ask()
                threading.Thread(target=on_quote, args=(quote,), name="kirin-quote",
                                 daemon=True).start()

        get_engine().submit(self.ask(request)).add_done_callback(remember)
        return self.estimate(request)

    async def ask(self, request: GenerationRequest) -> Quote:
        """The quote, on the engine loop (the runner asks for one while the job starts).

        Jobs of one price kind share one question to the service, and its answer for
        ``QUOTE_FRESH_SECONDS``: 2,000 jobs started at once ask once, not 2,000 times (a
        fifth of all requests, and of the engine's CPU, went on identical quotes)."""
        if not self._asks_service:
            return await asyncio.to_thread(self.estimate, request)
        kind = price_kind(request)
        with self._lock:
            cached, at = self._cache.get(kind), self._quoted_at.get(kind, 0.0)
        if cached is not None and time.monotonic() - at < QUOTE_FRESH_SECONDS:
            return cached
        asking = self._in_flight.get(kind)
        if asking is None:
            asking = asyncio.ensure_future(self._ask_service(request, kind))
            self._in_flight[kind] = asking
            asking.add_done_callback(lambda _done: self._in_flight.pop(kind, None))
        return await asyncio.shield(asking)

    async def _ask_service(self, request: GenerationRequest, kind: Kind) -> Quote:
        """One question to the service; a service quote is kept for the kind."""
        if self._asks_service:
            api = self.api
            answer = await api.quote(request)
            if answer is None:
                self._no_route(api)
            elif answer.cost is not None:
                quote = Quote(answer.cost, answer.currency, answer.discount, "service")
                with self._lock:
                    self._cache[kind], self._quoted_at[kind] = quote, time.monotonic()
                return quote
            else:
                log.info("the service gave no quote (%s); estimating the price instead",
                         api.redact(answer.reason or "no reason given"))
        return await asyncio.to_thread(self.estimate, request)

    def _no_route(self, api: GatewayHTTP) -> None:
        """A service without a precharge route: say so once, and stop asking it."""
        with self._lock:
            if not self._asks_service:
                return
            self._asks_service = False
        log.warning("the service at %s has no price quote route (%s); prices are estimated "
                    "from earlier jobs from now on", api.endpoint.base_url,
                    api.endpoint.quote_path)

    # -- what is known without asking ------------------------------------------------------

    def estimate(self, request: GenerationRequest) -> Quote:
        """The price from what the same model and resolution cost before on this service."""
        return estimated(self.estimate_cost(request))

    def estimate_cost(self, request: GenerationRequest) -> Decimal | None:
        """The cost of a request, from what the same model and resolution cost before on
        this service; None until one such job has finished."""
        price = price_per_image(self.journal, request.model.name, request.resolution,
                                self.api.endpoint.base_url)
        return None if price is None else price * request.images_expected

    def currency(self) -> str | None:
        """The currency of this service's quotes: of the last one it gave this connection,
        else as ``%kirin doctor`` found it on this host; None while neither knows (no
        precharge route, or only failed quotes)."""
        with self._lock:
            for quote in self._cache.values():
                if quote.source == "service" and quote.known:
                    return quote.currency
        return self.api.facts.get("quote_currency")

    def last_service_quote(self, request: GenerationRequest) -> Quote | None:
        """The service's last quote for requests of this kind on this connection, however
        old (the price in credits when a new quote fails)."""
        with self._lock:
            return self._cache.get(price_kind(request))
