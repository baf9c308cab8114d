"""Each subcommand's usage line, and the one error for words a subcommand does not take."""

from __future__ import annotations

from IPython.core.error import UsageError

USAGE = {
    "help": "%kirin help", "models": "%kirin models [--live [MODEL] [--refresh]]",
    "jobs": "%kirin jobs",
    "wait": "%kirin wait [--timeout SECONDS]", "config": "%kirin config",
    "resume": "%kirin resume [--steal]", "cancel": "%kirin cancel [TASK_ID | --all]",
    "history": "%kirin history [N] [--page P] [--model M] [--failed] [--search WORD] "
               "[--picked] [--rating 4+] [--user NAME]",
    "rate": "%kirin rate $job[i]|PATH|TASK_ID STARS (0-5)",
    "pick": "%kirin pick $job[i]|PATH|TASK_ID [--undo]",
    "reject": "%kirin reject $job[i]|PATH|TASK_ID [--undo]",
    "cull": "%kirin cull [--delete]",
    "tidy": "%kirin tidy NOTEBOOK.ipynb [--drop-widgets]",
    "spend": "%kirin spend [--day | --month | --all]",
    "journal": "%kirin journal migrate postgresql://...",
    "show": "%kirin show TASK_ID | PATH", "login": "%kirin login", "ui": "%kirin ui",
    "code": "%kirin code", "doctor": "%kirin doctor",
    "rerun": "%kirin rerun PATH [options]", "lineage": "%kirin lineage TASK_ID|PATH",
    "batch": "%kirin batch FILE [options] | %kirin batch show NAME [--page P]",
    "export": "%kirin export PATH.zip|.html|.csv [--since YYYY-MM-DD] [--model M] "
              "[--user NAME] [--picked] [--rating 4+] [--provenance full|minimal|off]",
    "element": "%kirin element create NAME --front PATH --refer PATH [--refer PATH ...] "
               "[--tag TAG] [--description TEXT] [--body docs|domestic] | "
               "%kirin element list",
}


def unexpected(command: str, rest: str) -> UsageError:
    """A subcommand word is never a (billed) prompt: say how to send it as one."""
    return UsageError(
        f"%kirin {command}: unexpected {' '.join(rest.split())!r}; usage: {USAGE[command]} "
        f"(a prompt that starts with {command!r}: %kirin -- {command} ...)"
    )


def no_words(command: str, rest: str) -> None:
    """For a subcommand that takes nothing after its name."""
    if rest.split():
        raise unexpected(command, rest)
