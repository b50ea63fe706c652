"""FormInput: the text field of every form, correct when keys arrive faster than it handles them.

Textual (8.2.8) forwards each key to the widget focused when the app dequeues it, into that
widget's own queue, but runs the widget's bindings (Backspace, arrows, Enter) and the screen's
(Tab) only once the key has bubbled back up to the app. In a burst (a paste, a laggy SSH
link) the printable keys after a bound key are handled first, in the old field. Tab is made
a priority binding of the app (tui/app.py), so it moves the focus in the app's own order; this
field runs its own bindings when it handles the key, and hands on what it was sent after it
moved the focus itself.
"""

from __future__ import annotations

import re
from typing import Any

from textual import events
from textual.widget import Widget
from textual.widgets import Input

# A run of a secret access key's characters long enough to be one; paths are lower case.
SECRET_RUN = re.compile(r"[A-Za-z0-9/+]{40,}")


def hand_on(event: events.Key | events.Paste, receiver: Widget) -> None:
    """Send ``event``, which reached a widget after it gave the focus away, to ``receiver``
    (the widget that has the focus now), as the app would have sent it."""
    event.stop()
    event.prevent_default()
    again: events.Key | events.Paste = (
        events.Key(event.key, event.character)
        if isinstance(event, events.Key)
        else events.Paste(event.text)
    )
    again.set_sender(receiver.app)
    receiver._forward_event(again)


def looks_like_secret(value: str) -> bool:
    """True when ``value`` holds a secret access key: 40 or more of [A-Za-z0-9/+] in a row,
    mixing capitals and small letters (a key-storage path such as keys/… is not one)."""
    for run in SECRET_RUN.findall(value):
        mixed = any(c.isupper() for c in run) and any(c.islower() for c in run)
        if mixed and not run.startswith("keys/"):
            return True
    return False


class FormInput(Input):
    """An Input for our forms. ``secret`` fields are masked; a plain field masks itself while
    its value looks like a secret. ``enter_focus`` names the widget Enter moves on to, and
    ``down_focus`` the one Down moves on to (a filter above its list)."""

    def __init__(
        self,
        value: str | None = None,
        *,
        secret: bool = False,
        enter_focus: str | None = None,
        down_focus: str | None = None,
        **options: Any,
    ) -> None:
        # Set before Input's __init__, which sets the value and so runs watch_value.
        self.secret = secret
        self.enter_focus = enter_focus
        self.down_focus = down_focus
        self.handing_on = False  # this field moved the focus away: what it is sent next follows
        super().__init__(value, password=secret, **options)

    def watch_value(self, value: str) -> None:
        if self.secret:
            return
        masked = looks_like_secret(value)
        self.password = masked
        radioactive = getattr(self.app, "radioactive", None)
        if isinstance(radioactive, dict) and self.id:
            if masked:
                radioactive[f"masked:{self.id}"] = value.strip()
            else:
                radioactive.pop(f"masked:{self.id}", None)

    def _on_focus(self, event: events.Focus) -> None:
        self.handing_on = False

    def move_focus(self, target: Widget | None = None) -> None:
        """Focus ``target`` (the next field by default); keys already sent here follow it."""
        self.handing_on = True
        if target is None:
            self.screen.focus_next()
        else:
            self.screen.set_focus(target)  # at once: Widget.focus waits for the app's queue

    def _receiver(self) -> Widget | None:
        """The widget that now takes what was typed after this field moved the focus away."""
        focused = self.app.focused
        if self.handing_on and focused is not None and focused is not self:
            return focused
        return None

    async def _on_key(self, event: events.Key) -> None:
        receiver = self._receiver()
        if receiver is not None:
            hand_on(event, receiver)
            return
        if event.key == "down" and self.down_focus is not None:
            event.stop()
            event.prevent_default()
            self.move_focus(self.screen.query_one(self.down_focus))
            return
        if event.is_printable:
            return  # Input's own handler inserts it, next in the method resolution order
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if binding.priority:
                continue
            # Run now, on this field: after the bubble, the focus may be on another one.
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                if binding.action == "submit" and self.enter_focus is not None:
                    self.move_focus(self.screen.query_one(self.enter_focus))
                return

    def _on_paste(self, event: events.Paste) -> None:
        receiver = self._receiver()
        if receiver is not None:
            hand_on(event, receiver)
            return
        first_line = event.text.splitlines()[0] if event.text else ""
        if "\t" not in first_line:
            return  # Input's own handler pastes it
        # Copied from a table, fields apart by tabs: each part goes to the next field.
        event.stop()
        event.prevent_default()
        head, rest = first_line.split("\t", 1)
        self.insert_text_at_cursor(head)
        self.move_focus()
        if rest and self.app.focused is not None and self.app.focused is not self:
            again = events.Paste(rest)
            again.set_sender(self.app)
            self.app.focused._forward_event(again)
