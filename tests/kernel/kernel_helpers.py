"""Drive a real IPython kernel (jupyter_client) and collect what it publishes."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager


@dataclass
class Execution:
    msg_id: str
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)  # every IOPub msg meanwhile

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] == kind]


class Kernel:
    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km, self.kc = km, kc
        self.all_messages: list[dict[str, Any]] = []

    def kill(self) -> None:
        """End the kernel at once, as a crash or a forced restart would."""
        self.km.shutdown_kernel(now=True)

    def run(self, code: str, timeout: float = 60, interrupt_after: float | None = None,
            interrupt_in: float | None = None) -> Execution:
        """Execute ``code``; keep every IOPub message until this request goes idle.

        Press Ctrl-C (SIGINT, as JupyterLab's stop button does) ``interrupt_after`` seconds
        after the cell first shows something, or ``interrupt_in`` seconds after sending it
        (for cells that show nothing before they block)."""
        return self._collect(self.kc.execute(code), timeout, interrupt_after, interrupt_in,
                             code, reply=True)

    def send_to_widget(self, model_id: str, content: Any, timeout: float = 30) -> Execution:
        """What a widget's ``model.send(content)`` in the front end sends: a ``comm_msg``
        carrying a custom message; every IOPub message until the kernel has handled it."""
        msg = self.kc.session.msg("comm_msg", {
            "comm_id": model_id, "data": {"method": "custom", "content": content}})
        self.kc.shell_channel.send(msg)
        return self._collect(msg["header"]["msg_id"], timeout, None, None, f"{content!r}",
                             reply=False)

    def _collect(self, msg_id: str, timeout: float, interrupt_after: float | None,
                 interrupt_in: float | None, code: str, *, reply: bool) -> Execution:
        execution = Execution(msg_id, {})
        deadline = time.monotonic() + timeout
        interrupt_at = None if interrupt_in is None else time.monotonic() + interrupt_in
        while time.monotonic() < deadline:
            if interrupt_at is not None and time.monotonic() >= interrupt_at:
                self.km.interrupt_kernel()
                interrupt_at = interrupt_after = None
            try:
                msg = self.kc.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            msg["received"] = time.monotonic()
            if interrupt_after is not None and interrupt_at is None and msg["msg_type"] in (
                    "display_data", "stream") and msg["parent_header"].get("msg_id") == msg_id:
                interrupt_at = msg["received"] + interrupt_after
            execution.messages.append(msg)
            self.all_messages.append(msg)
            if (msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id
                    and msg["content"]["execution_state"] == "idle"):
                if reply:  # a comm message has none
                    execution.reply = self.kc.get_shell_msg(timeout=10)
                return execution
        raise TimeoutError(f"cell did not finish in {timeout} s: {code[:60]!r}")


@contextmanager
def running_kernel(**start: Any) -> Iterator[Kernel]:
    """A fresh python3 kernel, stopped on exit through its own manager (its own PID).

    ``start`` goes to ``KernelManager.start_kernel`` (``env``, ``cwd``, ``extra_arguments``).
    """
    km = KernelManager(kernel_name="python3")
    km.start_kernel(**start)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield Kernel(km, kc)
    finally:
        kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=True)
