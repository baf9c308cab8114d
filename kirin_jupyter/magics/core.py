"""``%kirin`` / ``%%kirin`` and the ``Kirin`` traitlets configurable.

Module import stays light (no httpx, Pillow or ipywidgets) so ``%load_ext`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shlex
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import Bool, Float, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..base import frontends
from ..base.money import usd
from ..config import settings
from ..model import spec
from ..model.quote import CREDIT
from ..model.request import OPTION_NAMES, unchecked_note
from . import grammar as magic_options
from .prompting import PromptError, prompt_from_cell

if TYPE_CHECKING:

    from ..batches.batch import Batch
    from ..client import Client
    from ..engine.job import Job


_TRAIT_KINDS = {bool: Bool, int: Int, float: Float, str: Unicode}


def _trait(name: str) -> Any:
    kind = settings.kinds()[name]
    default = getattr(settings.Settings(), name)
    return _TRAIT_KINDS[kind](default, help=settings.help_of(name)).tag(config=True)


class _CheckedSettings(Configurable):
    """Every ``%config Kirin`` value passes the same check as a file's or an argument's."""

    @validate(*settings.names())
    def _checked(self, proposal: Any) -> Any:
        name = proposal["trait"].name
        value, problem = settings.check(name, proposal["value"])
        if problem:
            hint = " (in %config write {{id}}: IPython expands {id} on a magic line)" \
                if name == "task_path" and "{id}" in problem else ""
            raise TraitError(f"Kirin.{name} = {value!r}: {problem}{hint}")
        return value


# The traits are made from settings.Settings, so a setting is defined in one place.
Kirin: type[Configurable] = type("Kirin", (_CheckedSettings,), {
    "__doc__": "Defaults for %kirin / %%kirin, the panel and the Python API; ``%config "
               "Kirin`` lists them, ``%kirin config`` shows where each value came from. "
               "The API key is never a setting: it comes from KIRIN_API_KEY or %kirin login.",
    **{name: _trait(name) for name in settings.names()},
})


def _help_doc(width: int = magic_options.HELP_WIDTH) -> str:
    """``%kirin help`` and the magics' docstrings, wrapped at words to ``width`` columns."""
    usage = [
        ("%%kirin [VAR] [options]", "the cell body is the prompt"),
        ("%kirin [options] PROMPT", "a one-line prompt"),
        ("%kirin help | models | jobs | wait | config", ""),
        ("%kirin doctor", "check the host and the key, at no cost (creates nothing)"),
        ("%kirin resume [--steal] | show TASK_ID | login | ui | code", ""),
        ("%kirin show PATH", "the generation record saved inside a result file"),
        ("%kirin rerun PATH [options]", "generate again from a file's record; options win"),
        ("%kirin lineage ID|PATH", "the chain of results used as references, as thumbnails"),
        ("%kirin history [N] [--page P] [--model M] [--failed] [--search WORD]", ""),
        ("%kirin batch FILE [--name NAME] [--concurrency N] [options]",
         "one prompt a line (.txt) or a prompt column and option columns (.csv)"),
        ("%kirin batch show NAME [--page P]", "a page of a batch's gallery"),
        ("%%kirin --ar 1:1,16:9 --model omni,v3",
         "a sweep: every combination (and of {red|blue} in the prompt) as a priced grid"),
        ("%kirin export PATH [--since YYYY-MM-DD] [--model M]",
         "the journal's results as .zip (files + manifest), .html or .csv"),
    ]
    lines = [_wrap("Generate images with the Kirin API.", width), ""]
    for command, what in usage:
        text = f"  {command:<28} {what}" if what else f"  {command}"
        lines.append(_wrap(text, width, indent="      "))
    lines += ["", "Options:", magic_options.help_text(width), ""]
    lines.append(_wrap(
        "In the prompt, {name} is replaced by the value of a variable; {{ and }} give "
        "braces; a body that is just $var takes the prompt from that variable. VAR and "
        "_kirin hold the Job. Defaults: %config Kirin.", width))
    return "\n".join(lines)


def _wrap(text: str, width: int, indent: str = "") -> str:
    """At words only: a long word (a path, a URL) overflows rather than being split."""
    return "\n".join(textwrap.wrap(text, width, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))


@magics_class
class KirinMagics(Magics):
    """The magics; one ``Kirin`` configurable holds their defaults."""

    def __init__(self, shell: Any) -> None:
        from ..session import session_for

        super().__init__(shell=shell)
        self.config_obj = Kirin(parent=shell)
        if self.config_obj not in shell.configurables:
            shell.configurables.append(self.config_obj)
        self.session = session_for(shell)
        self.session.configurable = self.config_obj
        # %config applies at once, to the client the panel already holds too.
        self.config_obj.observe(lambda _change: self.session.refresh())
        for problem in self.session.reload_files().problems:  # read at load, like before
            print(problem, file=sys.stderr)

    @property
    def user_ns(self) -> dict[str, Any]:
        shell: Any = self.shell
        return shell.user_ns  # type: ignore[no-any-return]

    def client(self) -> Client:
        """The session's client, following %config Kirin, the files and the environment."""
        return self.session.client()

    # -- entry points --------------------------------------------------------------------

    # no_var_expand: IPython would evaluate {expressions} and $vars on the magic line;
    # ours are looked up as plain names only (see prompting.py).
    @no_var_expand
    @cell_magic
    def kirin(self, line: str, cell: str) -> None:
        try:
            self._cell(line, cell)
        except UsageError as exc:  # the one-line error names the magic that was typed
            raise _as_cell_magic(exc) from None

    def _cell(self, line: str, cell: str) -> None:
        args = magic_options.parse_cell_line(line)
        from . import sweep as sweep_magic

        if sweep_magic.wanted(args, cell, self.user_ns):  # comma lists or {a|b}
            return sweep_magic.run(self, args, cell, options_text=line, var=args.var)
        try:
            prompt = prompt_from_cell(cell, self.user_ns)
        except PromptError as exc:
            raise UsageError(f"%%kirin: {exc}") from None
        self._run(args, prompt, var=args.var)
        return None

    @no_var_expand
    @line_magic("kirin")  # type: ignore[arg-type]
    def kirin_line(self, line: str) -> Any:
        words = line.split()
        command = words[0] if words else "help"
        if command == "batch":
            return self._cmd_batch(line.split(None, 1)[1] if len(words) > 1 else "")
        if command == "export":
            return self._cmd_export(line.split(None, 1)[1] if len(words) > 1 else "")
        if command in ("show", "rerun", "lineage") and len(words) > 1:
            line = f"{command} {self._named(command, line.split(None, 1)[1])}"
        if command in ("rerun", "lineage"):
            from . import provenance as provenance_magic

            return provenance_magic.run(self.client(), self._generate_line, command,
                                        line.split(None, 1)[1]
                                        if len(words) > 1 else "")
        if command in _SUBCOMMANDS:  # a subcommand word is never a (billed) prompt
            return self._subcommand(command, words[1:], line)
        args, prompt = magic_options.parse_line(line)
        if not prompt:
            raise UsageError("%kirin: no prompt given (see %kirin help)")
        from . import sweep as sweep_magic

        if sweep_magic.wanted(args, prompt, self.user_ns):  # comma lists or {a|b}
            return sweep_magic.run(self, args, prompt, var=None,
                                   options_text=magic_options.split_line_prompt(line)[0])
        try:
            prompt = prompt_from_cell(prompt, self.user_ns)
        except PromptError as exc:
            raise UsageError(f"%kirin: {exc}") from None
        self._run(args, prompt, var=None)
        return None

    def _subcommand(self, command: str, rest: list[str], line: str = "") -> Any:
        if command == "history" and rest:
            return self._cmd_history(_history_args(line.split(None, 1)[1]))
        if not rest:
            if command == "show":
                raise UsageError("%kirin show: which job? usage: %kirin show TASK_ID")
            return getattr(self, f"_cmd_{command}")()
        if command == "wait" and len(rest) == 2 and rest[0] == "--timeout":
            return self._cmd_wait(magic_options.seconds(rest[1], command="%kirin wait"))
        if command == "resume" and rest == ["--steal"]:
            return self._cmd_resume(steal=True)
        if command == "show":  # a task id, or a path (quoted when it has spaces)
            return self._cmd_show(line.split(None, 1)[1].strip())
        raise UsageError(
            f"%kirin {command}: unexpected {' '.join(rest)!r}; usage: {_USAGE[command]} "
            f"(a prompt that starts with {command!r}: %kirin -- {command} ...)"
        )

    # -- generation ----------------------------------------------------------------------

    def _run(self, args: argparse.Namespace, prompt: str, var: str | None) -> None:
        from ..errors import KirinError, ValidationError

        timeout = _timeout_arg(args)  # every option is checked before anything is sent
        try:
            client = self.client()
        except KirinError as exc:
            raise UsageError(f"%kirin: {exc}") from None
        try:
            options = {name: getattr(args, name) for name in OPTION_NAMES}
            options["images"] = [self._image_arg(value) for value in args.images or []]
            request = client.build(prompt, **options)
        except ValidationError as exc:
            raise UsageError(f"%kirin: {exc}") from None
        if args.dry_run:
            self._show_dry_run(client, request)
            return
        try:
            job = client.submit(request)
        except KirinError as exc:  # a budget, a journal that cannot be used, ...
            raise UsageError(f"%kirin: {exc}") from None
        if var:
            self.user_ns[var] = job
        self.user_ns["_kirin"] = job
        for ref in request.images:
            if ref.mended:
                print(f"kirin: {ref.label} mended with --fit: {ref.mended}")
        self._follow(job, wait=args.wait or client.settings.blocking, timeout=timeout)

    def _follow(self, job: Job, *, wait: bool, timeout: float | None) -> None:
        """Show a job the way this front end can (see frontends.py)."""
        mode = frontends.mode(frontends.detect(self.shell))
        if mode == "terminal":
            _run_in_terminal(job, timeout)
            return
        from ..display.card import ProgressCard

        card = ProgressCard(job)
        if mode == "blocking":  # Colab: the main thread applies progress while it waits
            from ..display.static import FinalView
            from .follow import follow_on_main_thread

            handle = display(card.in_cell(), display_id=True)

            def finish() -> None:
                card.refresh(job)
                handle.update(FinalView(job))
                card.retire()

            follow_on_main_thread(self.shell, job, "job", timeout,
                                  refresh=lambda: card.refresh(job), finish=finish)
            return
        card.show()
        if wait:
            _wait_quietly(job, timeout)

    def _named(self, command: str, rest: str) -> str:
        """``$name`` or ``$name[i]`` as the first word of show, rerun and lineage: a path
        held in a variable, a job or result (its external id; its first file for rerun),
        or the i-th file of one. Anything else is left as typed."""
        first, _, tail = rest.strip().partition(" ")
        from ..lineage import VARIABLE, result_image

        found = VARIABLE.fullmatch(first)
        if found is None:
            return rest
        name, index = found[1], found[2]
        if name not in self.user_ns:
            raise UsageError(f"%kirin {command}: no variable named {name!r}")
        from ..engine.job import Job, Result
        from ..errors import KirinError

        value = self.user_ns[name]
        if isinstance(value, (str, os.PathLike)) and index is None:
            return f"{shlex.quote(os.fspath(value))} {tail}".strip()
        if isinstance(value, Job) and index is None and command != "rerun":
            return f"{value.external_task_id} {tail}".strip()
        result = value
        if isinstance(value, Job):
            if not value.done():
                raise UsageError(f"%kirin {command}: job {name!r} has not finished yet")
            try:
                result = value.wait(0)
            except KirinError as exc:
                raise UsageError(f"%kirin {command}: job {name!r} failed ({exc})") from None
        if not isinstance(result, Result):
            raise UsageError(f"%kirin {command}: {name!r} is a {type(value).__name__}; give "
                             "a path, a job or a result")
        if index is None and command != "rerun":
            return f"{result.external_task_id} {tail}".strip()
        try:  # [i] counts images, as --image $name[i] does
            path, _task = result_image(result, int(index or 0))
        except KirinError as exc:
            raise UsageError(f"%kirin {command}: {name!r}: {exc}") from None
        return f"{shlex.quote(str(path))} {tail}".strip()

    def _image_arg(self, value: str) -> Any:
        if value.startswith("$"):  # $name, or $job[2]: its third image (lineage.py)
            from ..lineage import variable_image

            return variable_image(value, self.user_ns)
        return value

    def _show_dry_run(self, client: Client, request: Any) -> None:
        endpoint = client.api.endpoint
        print(f"POST {endpoint.create_url()}")
        print("Authorization: Bearer ***" if not client.simulated else "(simulator: no key)")
        print(json.dumps(endpoint.wire_body(request.dry_run_body()), indent=2,
                         ensure_ascii=False))
        unchecked = unchecked_note([request])
        if unchecked:
            print(unchecked)
        print(f"price: {client.quote_request(request).describe()}")
        print("dry run: no task was created (a price quote creates nothing)")

    # -- subcommands ---------------------------------------------------------------------

    def _text_width(self) -> int:
        """Columns for printed text: 88 (a notebook's output breaks longer lines anywhere,
        even mid-word), or the terminal's width when that is narrower."""
        width = magic_options.HELP_WIDTH
        if frontends.mode(frontends.detect(self.shell)) == "terminal":
            from ..display.tables import terminal_width

            width = max(48, min(width, terminal_width(width) - 1))
        return width

    def _generate_line(self, args: Any, prompt: str) -> None:
        """A generation from parsed options and a prompt, as a subcommand asks for one."""
        self._run(args, prompt, var=None)

    def _cmd_help(self) -> None:
        print(_help_doc(self._text_width()))

    def _cmd_models(self) -> None:
        from ..display.models import ModelsView

        display(ModelsView())

    def _cmd_jobs(self) -> None:
        client = self.client()
        jobs = client.jobs
        if not jobs:
            print("no jobs in this session")
            return
        from ..display.tables import text_table

        rows = [[f"{index:>3}", job.status, job.request.model.alias, job.task_id or "-",
                 f"{job.elapsed:.1f} s", usd(job.cost) if job.cost is not None else "-",
                 " ".join(job.prompt.split())]
                for index, job in enumerate(jobs, start=1)]
        # One line a job, within the width a notebook shows without breaking words.
        print(text_table(["  #", "state", "model", "task", "time", "cost", "prompt"], rows,
                         width=self._text_width()))
        limit = client.max_cost
        print(f"session spend: {usd(client.session_spend())}"
              + (f" of max_cost {usd(limit)}" if limit is not None else ""))
        if client.max_credits is not None:
            print(_credits_line(client))

    def _cmd_wait(self, timeout: float | None = None) -> None:
        """Wait for every batch and sweep of the session, then every job, until none is
        left that was not waited for: a batch makes its items' jobs as it goes, and its
        card is replaced by the final view only after its last job ends. Each one's
        ``wait()`` returns after its card shows the final state (listeners run first), so
        a headless run that ends here saves final views, never a live card."""
        client = self.client()
        deadline = None if timeout is None else time.monotonic() + timeout
        waited: set[int] = set()
        while True:
            views: list[Job | Batch] = [*client.batches, *client.jobs]
            new = [each for each in views if id(each) not in waited]
            if not new:
                break
            for each in new:
                waited.add(id(each))
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not _wait_quietly(each, left):
                    return
        jobs = client.jobs
        done = [j for j in jobs if j.status == "completed"]
        failed = [j for j in jobs if j.status == "failed"]
        running = len(jobs) - len(done) - len(failed)
        tail = f", {running} still running" if running else ""
        print(f"kirin: {len(done)} completed, {len(failed)} failed{tail}")

    def _cmd_resume(self, steal: bool = False) -> None:
        import sqlite3

        from ..errors import KirinError

        client = self.client()
        try:
            jobs = client.resume(steal=steal)
        except (KirinError, sqlite3.Error, OSError, ValueError) as exc:
            raise UsageError(f"%kirin resume: the journal {client.journal.path} cannot be "
                             f"used ({exc})") from None
        for external_id, task_id, owner in client.held_elsewhere:
            host, _, pid = owner.rpartition(":")
            print(_wrap(f"kirin: job {task_id or external_id} is followed by another live "
                        f"kernel (process {pid} on {host}); %kirin resume --steal takes it "
                        "over", self._text_width(), indent="  "))
        lost = client.simulated_lost
        if lost:
            ids = ", ".join(task_id or external_id for external_id, task_id in lost[:5])
            more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
            print(_wrap(f"kirin: {len(lost)} simulated job(s) cannot be resumed ({ids}{more}): "
                        "the built-in simulator keeps its tasks only in the kernel process "
                        "that made them, and that process has ended. Run the cell again to "
                        "make new images (the simulator costs nothing).",
                        self._text_width(), indent="  "))
        from . import batch as batch_magic

        for batch in client.resumed_batches:
            print(f"kirin: batch {batch.name} goes on: {batch.reused} item(s) found done, "
                  f"{batch.followed} followed, {batch.counts()['queued']} left to make")
            batch_magic.follow(self.shell, batch, wait=False, timeout=None)
        if not jobs:
            if not client.held_elsewhere and not lost and not client.resumed_batches:
                print("kirin: nothing to resume: every journaled job is finished")
            return
        print(f"kirin: following {len(jobs)} job(s) left unfinished by an earlier session")
        for job in jobs:
            self._follow(job, wait=False, timeout=None)
        self.user_ns["_kirin_resumed"] = jobs

    def _cmd_batch(self, rest: str) -> Any:
        from ..errors import KirinError
        from . import batch as batch_magic

        if not rest.strip():
            raise UsageError(f"%kirin batch: which file? usage: {batch_magic.USAGE}")
        try:
            client = self.client()
        except KirinError as exc:
            raise UsageError(f"%kirin batch: {exc}") from None
        return batch_magic.run(self.shell, client, rest)

    def _cmd_export(self, rest: str) -> None:
        from ..errors import KirinError
        from . import export as export_magic

        words = magic_options._split(rest)  # before the client: a bad line sends nothing
        try:
            client = self.client()
        except KirinError as exc:
            raise UsageError(f"%kirin export: {exc}") from None
        export_magic.run(client, words)

    def _cmd_history(self, query: HistoryArgs | None = None) -> None:
        from ..display.history import HistoryPage, HistoryView

        query = query or HistoryArgs()
        model = spec.resolve_model(query.model).name if query.model else None
        from ..errors import ValidationError

        try:
            rows, total = self.client().journal.history(
                limit=query.limit, offset=(query.page - 1) * query.limit, model=model,
                failed=query.failed, search=query.search)
        except ValidationError as exc:
            raise UsageError(f"%kirin history: {exc}") from None
        pages = max(1, -(-total // query.limit))
        following = query.line(page=query.page + 1) if query.page < pages else ""
        display(HistoryView(HistoryPage(
            rows=rows, total=total, page=query.page, per_page=query.limit,
            next_command=following, filtered=query.filtered)))

    def _cmd_show(self, ident: str) -> None:
        from ..display.history import HistoryView
        from . import provenance as provenance_magic

        path = provenance_magic.path_argument(ident)
        if path is not None:  # a result file: the record inside it
            provenance_magic.show(path)
            return

        row = self.client().journal.find(ident)
        if row is None:
            raise UsageError(f"%kirin show: no job with task id or external id {ident!r}")
        display(HistoryView([row]))

    def _cmd_login(self) -> None:
        import getpass

        key = getpass.getpass("Kirin API key (kept in memory only): ").strip()
        if not key:
            raise UsageError("%kirin login: no key entered")
        self.session.login_key = key
        print(f"kirin: key set for this session; service {self.client().base_url}")

    def _cmd_ui(self) -> None:
        if frontends.mode(frontends.detect(self.shell)) == "terminal":
            print("kirin: the panel needs a notebook front end with widgets (JupyterLab, "
                  "Notebook 7, VS Code);\n  here, use %kirin PROMPT or a %%kirin cell "
                  "(%kirin help lists the options)")
            return
        from ..panel import Panel

        display(Panel(client=self.client()))

    def _cmd_code(self) -> None:
        """The panel's last code as a new cell below (a button click cannot add a cell)."""
        from .cells import insert_next_cell

        print(insert_next_cell(self.shell))

    def _cmd_doctor(self) -> None:
        from ..errors import KirinError
        from ..service.host_check import table

        try:
            report = self.client().doctor()
        except KirinError as exc:
            raise UsageError(f"%kirin doctor: {exc}") from None
        print(table(report))

    def _cmd_config(self) -> None:
        client = self.client()
        resolved = self.session.settings()
        files = self.session.files()
        print(f"service:    {'built-in simulator' if client.simulated else client.base_url}"
              f" ({client.host_reason})")
        source = "%kirin login" if self.session.login_key else f"${settings.ENV_API_KEY}"
        has_key = bool(self.session.login_key or settings.api_key_from_env())
        print(f"api key:    {'set' if has_key else 'not set'} (from {source})")
        print(f"output dir: {client.output_dir}")
        print(f"journal:    {client.journal.path}")
        print(f"front end:  {frontends.DESCRIPTIONS[frontends.detect(self.shell)]}")
        print(f"budget:     {_budget_text(client)}")
        for name in settings.names():
            print(f"Kirin.{name} = {getattr(resolved, name)!r}  (from "
                  f"{resolved.source(name)})")
        print(f"settings files read: {', '.join(str(p) for p in files.files) or 'none'}")
        for problem in files.problems:
            print(problem)


def _budget_text(client: Client) -> str:
    """'max_cost $5', 'max_credits 400 credits', both, or 'no limit'."""
    limits = [str(limit) for limit in client.budget.limits()]
    currency = client.service_currency()
    quoted = f" (the service quotes in {currency})" if currency else ""
    return (" and ".join(limits) or "no limit") + quoted


def _credits_line(client: Client) -> str:
    """What the session has committed in credits, against ``max_credits``."""
    spent, _, unknown = client.budget.committed(CREDIT)
    more = f" (and {unknown} job(s) of no known price in credits)" if unknown else ""
    return f"credits committed: {spent} of max_credits {client.max_credits}{more}"


_USAGE = {
    "help": "%kirin help", "models": "%kirin models", "jobs": "%kirin jobs",
    "wait": "%kirin wait [--timeout SECONDS]", "config": "%kirin config",
    "resume": "%kirin resume [--steal]",
    "history": "%kirin history [N] [--page P] [--model M] [--failed] [--search WORD]",
    "show": "%kirin show TASK_ID | PATH", "login": "%kirin login", "ui": "%kirin ui",
    "code": "%kirin code", "doctor": "%kirin doctor",
    "rerun": "%kirin rerun PATH [options]", "lineage": "%kirin lineage TASK_ID|PATH",
    "batch": "%kirin batch FILE [options] | %kirin batch show NAME [--page P]",
    "export": "%kirin export PATH.zip|.html|.csv [--since YYYY-MM-DD] [--model M]",
}
_SUBCOMMANDS = tuple(_USAGE)

KirinMagics.kirin.__doc__ = _help_doc()  # %%kirin? shows the options table
KirinMagics.kirin_line.__doc__ = _help_doc()  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True)
class HistoryArgs:
    """What ``%kirin history`` was asked for; checked before the journal is opened."""

    limit: int = 20
    page: int = 1
    model: str | None = None  # as typed: an alias or a full name
    failed: bool = False
    search: str | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.model or self.failed or self.search)

    def line(self, *, page: int) -> str:
        """The magic line for another page of the same listing."""
        words = ["%kirin", "history"] + ([str(self.limit)] if self.limit != 20 else [])
        words += ["--page", str(page)]
        words += ["--model", shlex.quote(self.model)] if self.model else []
        words += ["--failed"] if self.failed else []
        words += ["--search", shlex.quote(self.search)] if self.search else []
        return " ".join(words)


_HISTORY_MAX = 1000  # jobs on one page


def _history_args(text: str) -> HistoryArgs:
    """``[N] [--page P] [--model M] [--failed] [--search WORD]``; every mistake is one
    UsageError line. Numbers are ASCII digits only (``int`` would take '٣')."""
    usage = f"usage: {_USAGE['history']}"

    def bad(message: str) -> UsageError:
        return UsageError(f"%kirin history: {message}; {usage}")

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise bad(f"cannot read the options ({exc})") from None
    found: dict[str, Any] = {}

    def count(value: str, what: str, top: int) -> int:
        if not re.fullmatch(r"[0-9]{1,7}", value, re.ASCII) or not 1 <= int(value) <= top:
            raise bad(f"{what} must be a whole number from 1 to {top}, not {value!r}")
        return int(value)

    index = 0
    while index < len(words):
        word = words[index]
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        index += 1
        if name in ("--page", "--model", "--search"):
            if eq:
                value = inline
            elif index < len(words):
                value, index = words[index], index + 1
            else:
                raise bad(f"{name} needs a value")
            if name in found:
                raise bad(f"{name} given twice")
            if name == "--page":
                found[name] = count(value, "--page", 10**7)
            elif name == "--model":
                try:
                    spec.resolve_model(value)
                except KeyError as exc:
                    raise bad(str(exc.args[0])) from None
                found[name] = value
            else:
                if not value.strip():
                    raise bad("--search needs a word to look for")
                found[name] = value.strip()
        elif word == "--failed":
            found[word] = True
        elif word.startswith("-") and word != "-":
            raise bad(f"unknown option {word}")
        elif "N" in found:
            raise bad(f"unexpected {word!r}")
        else:
            found["N"] = count(word, "N (how many jobs)", _HISTORY_MAX)
    return HistoryArgs(limit=found.get("N", 20), page=found.get("--page", 1),
                       model=found.get("--model"), failed=found.get("--failed", False),
                       search=found.get("--search"))


def _as_cell_magic(error: UsageError) -> UsageError:
    """``%kirin: ...`` raised on the way of a ``%%kirin`` cell, titled as the cell was
    typed: ``%%kirin: ...`` (the checks are shared by the line and the cell magic)."""
    message = str(error)
    if message.startswith("%kirin"):
        return UsageError("%" + message)
    return error


def _timeout_arg(args: argparse.Namespace) -> float | None:
    return magic_options.seconds(args.timeout)


STOPPED_WAITING = "kirin: stopped waiting; the job goes on (%kirin jobs)"


def _wait_quietly(job: Job | Batch, timeout: float | None) -> bool:
    """Wait for a job (or a batch) whose outcome its card already shows; never raise its
    error twice, nor a timeout (``%kirin wait`` counts what is still running). Ctrl-C
    stops the waiting, not the job: one line, no traceback. False after Ctrl-C."""
    from ..errors import KirinError

    try:
        with contextlib.suppress(KirinError, TimeoutError):
            job.wait(timeout)
    except KeyboardInterrupt:
        print(STOPPED_WAITING)
        return False
    return True


def _run_in_terminal(job: Job, timeout: float | None) -> None:
    """No widgets: block, showing one updating progress line, then the saved files.

    The line is redrawn in place (carriage return) on a terminal; when the output is not
    a terminal (a pipe, a log), one line per change of state is printed instead. The
    listener runs on the engine thread, only prints, and falls silent once this returns
    (a timeout or Ctrl-C leaves the job running without writing over the prompt).
    """
    import sys

    from ..errors import KirinError

    stream = sys.stdout
    redraw = bool(getattr(stream, "isatty", lambda: False)())
    shown: dict[str, Any] = {"width": 0, "status": "", "active": True}

    def line(j: Job) -> None:
        if not shown["active"]:
            return
        text = _progress_text(j)
        if redraw:
            pad = " " * max(0, shown["width"] - len(text))
            stream.write("\r" + text + pad)
            stream.flush()
            shown["width"] = len(text)
        elif j.status != shown["status"]:
            stream.write(text + "\n")
            stream.flush()
        shown["status"] = j.status

    job.add_listener(line)
    try:
        result = job.wait(timeout)
    except KirinError as exc:
        shown["active"] = False
        print(("\n" if redraw else "") + f"kirin: {exc}")
        return
    except KeyboardInterrupt:
        shown["active"] = False
        print(("\n" if redraw else "") + STOPPED_WAITING)
        return
    finally:
        shown["active"] = False
    if redraw:
        print()
    count = len(result.paths)
    print(f"kirin: {count} file{'s' if count != 1 else ''} saved"
          + (f", cost {usd(result.cost)}" if result.cost is not None else ""))
    for path in result.paths:
        print(f"  {path}")


def _progress_text(job: Job, width: int = 20) -> str:
    """'kirin omni running     [######--------------]  31%   2.4 s'"""
    filled = round(job.progress * width)
    bar = "#" * filled + "-" * (width - filled)
    return (f"kirin {job.request.model.alias:<4} {job.status:<11} [{bar}] "
            f"{job.progress * 100:3.0f}% {job.elapsed:6.1f} s")
