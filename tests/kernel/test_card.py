"""display(job) in a real kernel: live, then the result."""

from __future__ import annotations

import pytest

from tests.kernel.kernel_helpers import running_kernel


def test_displaying_a_job_from_python_is_live_then_the_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A job shown as a cell's value: the live card (a widget that moves), replaced by the
    static result (what the saved notebook keeps), never a frozen 'pending' snapshot."""
    monkeypatch.setenv("KIRIN_SIMULATOR_SECONDS", "2")
    with running_kernel() as kernel:
        shown = kernel.run("import kirin_jupyter\njob = kirin_jupyter.generate('a fox')\njob")
        assert shown.reply["content"]["status"] == "ok"
        [card] = [m for m in shown.of_type("display_data")]
        assert "application/vnd.jupyter.widget-view+json" in card["content"]["data"]
        display_id = card["content"]["transient"]["display_id"]
        kernel.run("job.wait(30); print('done')")
        later = [m for m in kernel.all_messages if m["msg_type"] == "update_display_data"
                 and m["content"]["transient"]["display_id"] == display_id]
        assert len(later) == 1
        final = later[0]["content"]["data"]
        assert 'class="kirin kirin-card kirin-result tex2jax_ignore mathjax_ignore"' in \
            final["text/html"]
        assert '<img src="data:image/jpeg;base64,' in final["text/html"]
        assert "1 result" in final["text/plain"]
        again = kernel.run("job")  # shown once it is done: the result, at once
        [static_card] = again.of_type("execute_result") or again.of_type("display_data")
        assert 'kirin-result' in static_card["content"]["data"]["text/html"]
