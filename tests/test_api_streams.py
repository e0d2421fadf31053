"""Following reply tasks from an event loop: wake-ups, batches, the first text at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from assistant.chat import Assistant
from assistant.context import ChatTurn
from assistant.replies import Replies, ReplyJob
from assistant.roles import builtin_roles
from assistant.settings import Settings
from server.api_streams import TaskWatch, updates
from tests.fake_openrouter import TEXT_MODEL, FakeOpenRouter, long_reply


class Task:
    """What `TaskWatch` needs of a reply task: listeners."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], object]] = []

    def add_listener(self, listener: Callable[[], object]) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Callable[[], object]) -> None:
        self.listeners.remove(listener)

    def change(self, times: int = 1) -> None:
        def run() -> None:
            for _ in range(times):
                for listener in self.listeners:
                    listener()

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()


def test_a_watch_costs_no_wake_up_per_change_while_nobody_waits() -> None:
    async def check() -> None:
        task = Task()
        watch = TaskWatch(task)  # type: ignore[arg-type]
        woken = 0
        wake = watch._wake

        def counted() -> None:
            nonlocal woken
            woken += 1
            wake()

        watch._wake = counted  # type: ignore[method-assign]
        task.change(1000)  # tokens arriving while the stream gathers text for its next event
        await asyncio.sleep(0.05)
        assert woken == 0
        await asyncio.wait_for(watch.changed(), 1)  # what changed meanwhile is not missed

        waiting = asyncio.create_task(watch.changed())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        task.change(1000)
        await asyncio.wait_for(waiting, 1)
        assert woken <= 2
        watch.close()
        assert task.listeners == []

    asyncio.run(check())


def test_updates_carry_the_whole_reply_in_fewer_events_than_tokens() -> None:
    with FakeOpenRouter() as fake:
        fake.queue(long_reply(60, tokens_per_second=300))
        settings = Settings(api_key="k", base_url=fake.url, fallback_models=(), max_retries=0)
        replies = Replies(Assistant(settings))
        role = builtin_roles()["gadget"]
        job = ReplyJob(1, "c", "r", role, TEXT_MODEL, history=(ChatTurn("user", "Go"),))
        task = replies.start(job)

        async def follow() -> list[str]:
            seen = []
            async for update in updates(task):
                seen.append(update.text)
                if update.done:
                    assert update.reply.status == "complete"
            return seen

        seen = asyncio.run(follow())
    assert "".join(seen) == "".join(f"w{i} " for i in range(60))
    assert all(seen[:-1]) and len(seen) < 60
