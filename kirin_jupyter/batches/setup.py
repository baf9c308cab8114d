"""Opening a batch: build and check every item, find what an earlier run already did,
price what is left, check the budget, journal it; only then is anything sent."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..engine.adaptive import CEILING, START, AdaptiveLimit
from ..engine.job import Job
from ..errors import ValidationError
from ..model.quote import Quote
from ..model.request import GenerationRequest, request_from_summary
from .batch import Batch, Takeover
from .journal import BatchJournal, ItemRow, Taken, item_external_id
from .journal_pg import batch_journal

if TYPE_CHECKING:
    from .batch import BatchServices

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_name(name: str) -> str:
    text = str(name).strip()
    if not _NAME.fullmatch(text):
        raise ValidationError(
            f"batch name {text[:40]!r}: 1 to 64 letters, digits, '-', '_' or '.', starting "
            "with a letter or digit (it becomes part of every item's external id)")
    return text


def new_name() -> str:
    return f"batch-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


def build_requests(services: BatchServices, items: list[dict[str, Any]], name: str,
                   common: dict[str, Any]) -> list[GenerationRequest]:
    """Every item checked (``item 7: ...``) before anything is sent."""
    requests = []
    for index, item in enumerate(items):
        options = {**common, **item}
        prompt = options.pop("prompt")
        try:
            requests.append(services.build(
                prompt, **options, external_task_id=item_external_id(name, index)))
        except ValidationError as exc:
            raise ValidationError(f"item {index + 1}: {exc}") from None
    return requests


def fingerprint(requests: list[GenerationRequest]) -> str:
    """What the batch asks for (references by hash): a re-run must ask for the same."""
    digest = hashlib.sha256()
    for request in requests:
        digest.update(json.dumps(request.summary(), sort_keys=True).encode())
    return digest.hexdigest()


def stored_inputs(items: list[dict[str, Any]], common: dict[str, Any]) -> str:
    """The items as given, for finishing an unnamed batch after a restart; an item whose
    references are objects in memory (not paths or URLs) is kept as null."""
    kept: list[dict[str, Any] | None] = []
    for item in items:
        merged = {**common, **item}
        try:
            json.dumps(merged)
        except (TypeError, ValueError):
            kept.append(None)
        else:
            kept.append(merged)
    return json.dumps(kept)


def open_batch(services: BatchServices, items: list[dict[str, Any]], *, name: str | None,
               concurrency: int | None, common: dict[str, Any]) -> Batch:
    name = check_name(name) if name is not None else new_name()
    _checked_concurrency(concurrency)
    requests = build_requests(services, items, name, common)
    return open_built(services, name, requests, concurrency=concurrency,
                      inputs=stored_inputs(items, common))


def open_built(services: BatchServices, name: str, requests: list[GenerationRequest], *,
               concurrency: int | None, inputs: str,
               priced: list[Quote | None] | None = None) -> Batch:
    """Start a batch of requests already built and checked (each external id from
    ``item_external_id(name, i)``), such as a sweep's cells; ``inputs`` as
    ``stored_inputs`` makes them (to finish it after a restart). ``priced``: their quotes,
    already checked against the budget by the caller (a sweep's plan), so they are
    neither asked for nor checked again here.

    When another live kernel runs the same named batch, nothing is bought here: the batch
    watches that kernel's items land in the journal and shows them, and takes over what
    is left if that kernel stops or dies (``Batch.made_by`` says which kernel)."""
    ceiling = _checked_concurrency(concurrency)
    journal = batch_journal(services.journal)
    print_ = fingerprint(requests)
    earlier = journal.get(name)
    if earlier is not None:
        _check_same(earlier, name, print_, services.base_url)
    here = next((b for b in services.running if b.name == name and not b.done()), None)
    if here is not None:
        return here  # running in this kernel already: the same batch, not a second run
    taking = _Taking(services, name, print_, len(requests), inputs)
    taken = taking.take()
    if not taken.mine:
        assert taken.holder is not None
        batch = Batch(services, name, requests,
                      gate=AdaptiveLimit(ceiling, min(START, ceiling)),
                      quotes=[None] * len(requests))
        batch.watch(taken.holder, functools.partial(taking.take_over, batch))
        print(batch.note)
        return batch
    return _start_taken(services, journal, taken, name, requests, ceiling=ceiling,
                        priced=priced)


def _start_taken(services: BatchServices, journal: BatchJournal, taken: Taken, name: str,
                 requests: list[GenerationRequest], *, ceiling: int,
                 lost: set[int] | None = None,
                 priced: list[Quote | None] | None = None) -> Batch:
    """Start a batch this kernel has just taken in the journal: sort its items, claim
    those at the service, go; on any failure give the batch back as it was."""
    try:
        batch, queue, follow = _prepare(services, name, requests, ceiling=ceiling,
                                        rows=journal.items(name), lost=lost, priced=priced)
    except BaseException:
        journal.give_back(name, taken.previous)
        raise
    journal.claim([job.external_task_id for _, job in follow])
    batch.launch(queue=queue, follow=follow)
    return batch


class _Taking:
    """Taking a batch over in the journal: now, or later from a kernel it watched."""

    def __init__(self, services: BatchServices, name: str, print_: str, size: int,
                 inputs: str) -> None:
        self.services, self.name, self.print_ = services, name, print_
        self.size, self.inputs = size, inputs
        self.journal = batch_journal(services.journal)

    def take(self) -> Taken:
        return self.journal.take(
            self.name, base_url=self.services.base_url, fingerprint=self.print_,
            size=self.size, inputs=self.inputs, output_dir=self.services.output_dir,
            check=lambda row: _check_same(row, self.name, self.print_,
                                          self.services.base_url))

    def take_over(self, batch: Batch) -> Takeover:
        """The watched kernel no longer runs the batch: make it ours and sort its items
        (what that kernel made is done or followed, only the rest is bought), or say who
        runs it now. Runs in a worker thread (journal, quotes)."""
        taken = self.take()
        if not taken.mine:
            return taken.holder
        try:
            batch.quotes = self.services.prices.per_kind(batch.requests)  # none so far
            queue, found = batch.sort_items(self.journal.items(self.name))
            self.services.budget.check_batch([batch.requests[i] for i in queue],
                                             [batch.quotes[i] for i in queue])
        except BaseException:
            self.journal.give_back(self.name, taken.previous)
            raise
        follow = batch.follow_found(found)
        self.journal.claim([job.external_task_id for _, job in follow])
        return queue, follow


def resume_batches(services: BatchServices) -> list[Batch]:
    """Finish the batches an earlier kernel left running on this service (nothing bought
    twice: items in the journal are followed, only the others are created)."""
    journal = batch_journal(services.journal)
    batches = []
    for row in journal.unfinished(services.base_url):
        name = row["name"]
        if any(b.name == name and not b.done() for b in services.running):
            continue  # this kernel runs it now
        rows = journal.items(name)
        inputs = json.loads(row["inputs"] or "[]")
        requests: list[GenerationRequest] = []
        lost: set[int] = set()
        for index, item in enumerate(inputs):
            seen = rows.get(index)
            if item is not None:
                options = dict(item)
                prompt = options.pop("prompt")
                request = services.build(prompt, **options,
                                       external_task_id=item_external_id(name, index))
            elif seen is not None:
                request = request_from_summary(json.loads(seen.row["request"]),
                                               item_external_id(name, index))
            else:
                request = request_from_summary({"prompt": "(not kept)"},
                                               item_external_id(name, index))
                lost.add(index)
            requests.append(request)
        taken = journal.take(name, base_url=services.base_url, fingerprint=row["fingerprint"],
                             size=row["size"], inputs=row["inputs"],
                             output_dir=services.output_dir)
        if not taken.mine:
            continue  # another kernel took it up a moment ago: it finishes it
        batches.append(_start_taken(services, journal, taken, name, requests,
                                    ceiling=CEILING, lost=lost))
    return batches


def _checked_concurrency(value: int | None) -> int:
    if value is None:
        return CEILING
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"concurrency must be a whole number, 1 or more, not {value!r}")
    return value


def _check_same(earlier: dict[str, Any], name: str, print_: str, base_url: str) -> None:
    if earlier["base_url"] != base_url:
        raise ValidationError(f"batch {name!r} ran on another service ({earlier['base_url']});"
                              " give this one another name")
    if earlier["fingerprint"] != print_:
        raise ValidationError(
            f"batch {name!r} was run with other prompts or options; give this one another "
            "name (running the same batch again resumes it)")


def _prepare(services: BatchServices, name: str, requests: list[GenerationRequest], *,
             ceiling: int, rows: dict[int, ItemRow], lost: set[int] | None = None,
             priced: list[Quote | None] | None = None,
             ) -> tuple[Batch, list[int], list[tuple[int, Job]]]:
    """The batch, with each item sorted into done (earlier result), failed (settled),
    followed (at the service) or queued (to be bought), and the budget checked (unless
    the caller ``priced`` it, and checked it, already)."""
    quotes = priced if priced is not None else services.prices.per_kind(requests)
    batch = Batch(services, name, requests,
                  gate=AdaptiveLimit(ceiling, min(START, ceiling)), quotes=quotes)
    queue, found = batch.sort_items(rows, lost)
    if priced is None:
        services.budget.check_batch([requests[i] for i in queue], [quotes[i] for i in queue])
    return batch, queue, batch.follow_found(found)
