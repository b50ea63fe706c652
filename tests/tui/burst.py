"""Keys that arrive in one burst, as a paste or a laggy SSH link delivers them."""

from __future__ import annotations

from textual import events
from textual.app import App
from textual.keys import _character_to_key


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
