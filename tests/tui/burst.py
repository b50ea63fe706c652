"""Keys that arrive in one burst, as a paste or a laggy SSH link delivers them."""

from __future__ import annotations

import time
from typing import Any

from textual import events
from textual.app import App
from textual.keys import _character_to_key
from textual.pilot import Pilot

DEADLINE = 30.0  # seconds for a burst to be handled; a few milliseconds when idle


def key_event(key: str) -> events.Key:
    """The Key event a terminal driver makes for one typed character or a named key."""
    if len(key) == 1:
        return events.Key(_character_to_key(key), key)
    return events.Key(key, "\r" if key == "enter" else None)


def burst(app: App[object], *keys: str) -> None:
    """Post every key to the app at once, before its loop handles the first one.

    ``pilot.press`` waits for the app to go idle after each key, which hides bugs of order;
    a terminal driver posts all the keys of one read without waiting, as this does.
    """
    for key in keys:
        event = key_event(key)
        event.set_sender(app)
        app.post_message(event)


def typed(text: str) -> list[str]:
    """The keys that type ``text``."""
    return list(text)


def queued(app: App[object]) -> int:
    """Messages waiting in the app and in every node of its screen stack (keys forwarded to a
    widget wait in that widget's own queue)."""
    pumps: list[Any] = [app]
    for screen in app.screen_stack:
        pumps.extend(screen.walk_children(with_self=True))
    return sum(pump._message_queue.qsize() for pump in pumps)


async def drain(app: App[object], pilot: Pilot[Any]) -> None:
    """Wait until every queued key has been handled, and what it caused too: no queue holds a
    message on two turns of the loop in a row."""
    deadline = time.monotonic() + DEADLINE
    empty_turns = 0
    while empty_turns < 2:
        assert time.monotonic() < deadline, f"{queued(app)} messages still queued"
        await pilot.pause()
        empty_turns = empty_turns + 1 if queued(app) == 0 else 0
