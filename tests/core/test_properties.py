"""The line-preserving .properties editor, checked against the real java.util.Properties."""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.fixtures.java_oracle import JavaLoadError, JavaPropertiesOracle
from tui.core.properties import (
    PropertiesDocument,
    PropertiesError,
    escape_key,
    escape_value,
    format_entry,
    load_properties,
)
from tui.core.secret import Secret

PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

MIXED = (
    "# Rundeck framework settings\r\n"
    "\r\n"
    "! bang comment ends in a backslash \\\r\n"
    "framework.server.name = rundeck-01\r\n"
    "   indented.key:indented value\r\n"
    "multi = first, \\\r\n"
    "        second, \\\r\n"
    "        third\r\n"
    "dup=one\r\n"
    "\t\r\n"
    "dup = two\r\n"
    "last.key value without newline"
)


def physical_lines(text: str) -> list[str]:
    return PHYSICAL_LINE.findall(text)


def java_reads(oracle: JavaPropertiesOracle, document: PropertiesDocument) -> dict[str, str]:
    return oracle.load_bytes(document.to_bytes())


# --- the oracle itself -----------------------------------------------------------------------


def test_oracle_answers_a_batch_and_survives_a_dead_jvm(
    java_properties: JavaPropertiesOracle, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.properties", tmp_path / "second.properties"
    first.write_bytes(b"a=1\n")
    second.write_bytes(b"b=\\u00e9\n")
    assert java_properties.load_many([first, second]) == [{"a": "1"}, {"b": "é"}]
    with pytest.raises(JavaLoadError, match="FileNotFoundException"):
        java_properties(tmp_path / "missing.properties")
    pid = java_properties.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert java_properties(first) == {"a": "1"}
    assert java_properties.pid not in (None, pid)


# --- parsing and preservation ---------------------------------------------------------------


def test_parse_then_render_is_byte_identical_and_reads_like_java(
    java_properties: JavaPropertiesOracle,
) -> None:
    data = MIXED.encode("latin-1")
    document = PropertiesDocument.parse_bytes(data)
    assert document.to_bytes() == data
    assert document.render() == MIXED
    assert document.items() == java_properties.load_bytes(data)
    assert document.items() == {
        "framework.server.name": "rundeck-01",
        "indented.key": "indented value",
        "multi": "first, second, third",
        "dup": "two",
        "last.key": "value without newline",
    }
    assert document.keys() == list(document.items())
    assert document.newline == "\r\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_parses_alike_and_survives(
    newline: str, java_properties: JavaPropertiesOracle
) -> None:
    text = newline.join(["#c", "a=1", "b = 2 \\", "   3", "", "c:4"]) + newline
    document = PropertiesDocument.parse(text)
    assert document.items() == {"a": "1", "b": "2 3", "c": "4"}
    assert java_properties.load_bytes(text.encode()) == document.items()
    assert document.render() == text
    assert document.newline == newline


def test_duplicate_keys_last_definition_wins(java_properties: JavaPropertiesOracle) -> None:
    text = "k=first\nother=x\nk=second\n"
    document = PropertiesDocument.parse(text)
    assert document.get("k") == "second"
    assert java_properties.load_bytes(text.encode())["k"] == "second"
    assert document.get("missing") is None
    assert "k" in document and "missing" not in document


def test_escapes_decode_like_java(java_properties: JavaPropertiesOracle) -> None:
    text = (
        "a\\=b\\:c\\ d = \\tx\\ny\\rz\\f\\\\\\q\n"
        "uni=\\u00e9\\u65E5\\uD83D\\uDE00\n"
        "\\#not-a-comment=1\n"
        "sep1:=v\n"
        "sep2 =:v\n"
        "sep3\t\fv\n"
    )
    document = PropertiesDocument.parse(text)
    assert document.items() == java_properties.load_bytes(text.encode("latin-1"))
    assert document.get("a=b:c d") == "\tx\ny\rz\f\\q"
    assert document.get("uni") == "é日😀"
    assert document.get("#not-a-comment") == "1"
    assert document.get("sep1") == "=v"
    assert document.get("sep2") == ":v"
    assert document.get("sep3") == "v"


def test_javas_corner_cases_of_continuations(java_properties: JavaPropertiesOracle) -> None:
    cases = {
        # A continuation line starting with '#' is data, not a comment.
        "k=v\\\n  #still value\n": {"k": "v#still value"},
        # After a lone backslash line the buffer is empty, so '#' starts a comment again.
        "\\\n#comment\nk=v\n": {"k": "v"},
        # A blank continuation line ends the logical line.
        "k=v\\\n\nnext=1\n": {"k": "v", "next": "1"},
        # A lone backslash before end of input is Java's empty key.
        "\\\n": {"": ""},
        "\\\r\n": {},
        # A comment never continues.
        "# comment \\\nk=v\n": {"k": "v"},
        # An even number of backslashes does not continue.
        "k=v\\\\\nnext=1\n": {"k": "v\\", "next": "1"},
    }
    for text, expected in cases.items():
        assert load_properties(text) == expected, repr(text)
        assert java_properties.load_bytes(text.encode()) == expected, repr(text)


def test_latin1_bytes_round_trip_and_decode_like_java(
    java_properties: JavaPropertiesOracle,
) -> None:
    data = b"# caf\xe9 \x80\xff\ncity=Z\xfcrich\n"
    document = PropertiesDocument.parse_bytes(data)
    assert document.get("city") == "Zürich"
    assert java_properties.load_bytes(data) == {"city": "Zürich"}
    document.set("other", "x")
    assert document.to_bytes().startswith(data)


def test_binary_content_is_refused_without_echoing_values() -> None:
    with pytest.raises(PropertiesError, match="NUL bytes") as error:
        PropertiesDocument.parse_bytes(b"aws.secret=hunter2-secret\x00\x01\n")
    assert "hunter2" not in str(error.value)
    with pytest.raises(PropertiesError, match="NUL bytes"):
        PropertiesDocument.parse("a=\x00")
    assert isinstance(error.value, ValueError)


def test_malformed_unicode_escape_is_refused_like_java(
    java_properties: JavaPropertiesOracle,
) -> None:
    data = b"ok=1\npassword=hunter2\\u12G4\n"
    with pytest.raises(PropertiesError, match=r"line 2: malformed \\uXXXX") as error:
        PropertiesDocument.parse_bytes(data)
    assert "hunter2" not in str(error.value)
    with pytest.raises(JavaLoadError, match="Malformed"):
        java_properties.load_bytes(data)


def test_text_outside_latin1_cannot_be_written_as_bytes() -> None:
    document = PropertiesDocument.parse("ok=1\nname=日本\n")
    assert document.get("name") == "日本"
    with pytest.raises(PropertiesError, match=r"line 2 .*ISO-8859-1"):
        document.to_bytes()


# --- set ------------------------------------------------------------------------------------


def test_set_replaces_in_place_and_keeps_every_other_byte(
    java_properties: JavaPropertiesOracle,
) -> None:
    document = PropertiesDocument.parse(MIXED)
    document.set("framework.server.name", "rundeck-02")
    assert document.render() == MIXED.replace(
        "framework.server.name = rundeck-01\r\n", "framework.server.name=rundeck-02\r\n"
    )
    assert java_reads(java_properties, document)["framework.server.name"] == "rundeck-02"


def test_set_replaces_all_lines_of_a_continued_value() -> None:
    document = PropertiesDocument.parse(MIXED)
    document.set("multi", "one")
    expected = MIXED.replace(
        "multi = first, \\\r\n        second, \\\r\n        third\r\n", "multi=one\r\n"
    )
    assert document.render() == expected


def test_set_keeps_only_the_last_duplicate_in_its_place() -> None:
    document = PropertiesDocument.parse("dup=1\na=x\ndup=2\nb=y\ndup=3\nc=z\n")
    document.set("dup", "new")
    assert document.render() == "a=x\nb=y\ndup=new\nc=z\n"


def test_set_to_the_current_value_keeps_the_line_as_written() -> None:
    text = "# c\nkey   =   value\n"
    document = PropertiesDocument.parse(text)
    document.set("key", "value")
    assert document.render() == text


def test_set_appends_with_the_files_dominant_newline() -> None:
    document = PropertiesDocument.parse("a=1\r\nb=2\r\nc=3\n")
    document.set("new", "v")
    assert document.render() == "a=1\r\nb=2\r\nc=3\nnew=v\r\n"
    cr_only = PropertiesDocument.parse("a=1\rb=2\r")
    cr_only.set("new", "v")
    assert cr_only.render() == "a=1\rb=2\rnew=v\r"


def test_set_on_a_file_without_trailing_newline_ends_the_last_line_first() -> None:
    document = PropertiesDocument.parse("# head\na=1")
    document.set("b", "2")
    assert document.render() == "# head\na=1\nb=2\n"
    comment_last = PropertiesDocument.parse("a=1\r\n# trailing comment")
    comment_last.set("b", "2")
    assert comment_last.render() == "a=1\r\n# trailing comment\r\nb=2\r\n"


def test_set_on_an_empty_document() -> None:
    document = PropertiesDocument()
    document.set("aws.region", "eu-west-1")
    assert document.render() == "aws.region=eu-west-1\n"


@pytest.mark.parametrize(
    "text",
    ["a=dangling\\", "a=dangling\\\n", "a=dangling\\\r\n", "\\", "\\\n", "\\\r\n", "a=1\n\\\n  "],
)
def test_appending_after_an_open_continuation_never_joins_it(
    text: str, java_properties: JavaPropertiesOracle
) -> None:
    document = PropertiesDocument.parse(text)
    before = java_properties.load_bytes(text.encode())
    assert document.items() == before
    document.set("added", "v")
    assert java_reads(java_properties, document) == {**before, "added": "v"}
    assert document.items() == {**before, "added": "v"}


def test_set_takes_only_strings() -> None:
    document = PropertiesDocument.parse("a=1\n")
    with pytest.raises(TypeError, match="value must be a str"):
        document.set("secret", Secret("hunter2"))  # type: ignore[arg-type]
    assert document.render() == "a=1\n"


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("a=b:c d", "  lead", "a\\=b\\:c\\ d=\\  lead"),
        ("#k", "x", "\\#k=x"),
        ("!k", "#v!", "\\!k=#v!"),
        ("back\\slash", "v\\", "back\\\\slash=v\\\\"),
        ("", "", "="),
        ("k", "l1\nl2\r\t\f", "k=l1\\nl2\\r\\t\\f"),
        ("é", "日本😀", "\\u00E9=\\u65E5\\u672C\\uD83D\\uDE00"),
        ("k", "trailing  ", "k=trailing  "),
    ],
)
def test_written_lines_are_printable_ascii_that_java_reads_back(
    key: str, value: str, line: str, java_properties: JavaPropertiesOracle
) -> None:
    assert format_entry(key, value) == line
    assert java_properties.load_bytes((line + "\n").encode("ascii")) == {key: value}


def test_escape_helpers_treat_keys_and_values_differently() -> None:
    assert escape_key(" a=b") == "\\ a\\=b"
    assert escape_value(" a=b") == "\\ a=b"
    assert escape_value("a b") == "a b"


# --- remove ---------------------------------------------------------------------------------


def test_remove_deletes_every_definition_with_all_its_lines(
    java_properties: JavaPropertiesOracle,
) -> None:
    text = "dup=1\n# keep\ndup = a \\\n    b \\\n    c\nkeep=yes\ndup=3"
    document = PropertiesDocument.parse(text)
    document.remove("dup")
    assert document.render() == "# keep\nkeep=yes\n"
    assert java_reads(java_properties, document) == {"keep": "yes"}


def test_remove_of_an_absent_key_changes_nothing() -> None:
    document = PropertiesDocument.parse(MIXED)
    document.remove("absent")
    assert document.render() == MIXED


def test_remove_takes_the_dangling_backslash_line_with_its_key() -> None:
    document = PropertiesDocument.parse("a=1\n\\\nk=v\nb=2\n")
    assert document.get("k") == "v"
    document.remove("k")
    assert document.render() == "a=1\nb=2\n"


# --- properties checked by Java ---------------------------------------------------------------

NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])
OTHER_NAMES = ["alpha", "beta.gamma", "x", "server.url", "caf\xe9"]
SPECIAL_CHARS = "=:\\#! \t\n\r\f\xa0é日本😀\x00\x7f\u0085\u2028"
SPECIAL_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(SPECIAL_CHARS), st.characters(codec="utf-8")),
    max_size=10,
)
# Raw value pieces; "{NL}" is the file's newline. A continuation always carries more text after
# it so that a block never runs into the next one.
VALUE_PIECES = [
    "v",
    "b c",
    "=",
    ":",
    "#",
    "!",
    " ",
    "\\\\",
    "\\=",
    "\\:",
    "\\ ",
    "\\n",
    "\\t",
    "\\u00e9",
    "\\u65E5",
    "\\q",
    "\xe9\xff",
    "\\{NL}more",
    "\\{NL}   #hash",
    "\\{NL}\t!bang",
]


@dataclass(frozen=True)
class Block:
    """A piece of a generated file: whole physical lines, without the last line's ending."""

    text: str
    is_target: bool = False


@st.composite
def other_entries(draw: st.DrawFn) -> Block:
    name = draw(st.sampled_from(OTHER_NAMES))
    raw_key = draw(
        st.sampled_from([name, name[:1] + "\\" + name[1:], name[:1] + "\\{NL} " + name[1:]])
    )
    lead = draw(st.sampled_from(["", "  ", "\t"]))
    separator = draw(st.sampled_from(["=", " = ", ":", " ", "\t:", " =  "]))
    value = "".join(draw(st.lists(st.sampled_from(VALUE_PIECES), max_size=5)))
    return Block(lead + raw_key + separator + value)


COMMENTS = st.builds(
    lambda mark, body, tail: Block(mark + body + tail),
    st.sampled_from(["#", "!", "  #", "\t!"]),
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=8
    ),
    st.sampled_from(["", "\\", " \\\\"]),
)
BLANKS = st.sampled_from([Block(""), Block("   "), Block("\t\f")])


def target_blocks(key: str) -> st.SearchStrategy[Block]:
    return st.builds(
        lambda lead, value: Block(lead + format_entry(key, value), is_target=True),
        st.sampled_from(["", "  "]),
        SPECIAL_TEXT,
    )


@st.composite
def files_with_target(draw: st.DrawFn) -> tuple[list[Block], str, bool, str]:
    key = draw(SPECIAL_TEXT)
    assume(key not in OTHER_NAMES)
    blocks = draw(
        st.lists(st.one_of(other_entries(), COMMENTS, BLANKS, target_blocks(key)), max_size=8)
    )
    return blocks, draw(NEWLINES), draw(st.booleans()), key


def join_blocks(blocks: list[Block], newline: str, final_newline: bool) -> str:
    text = "".join(block.text.replace("{NL}", newline) + newline for block in blocks)
    if blocks and not final_newline:
        text = text[: -len(newline)]
    return text


@HYPOTHESIS
@given(generated=files_with_target(), value=SPECIAL_TEXT)
def test_set_is_read_back_by_java_and_leaves_other_lines_untouched(
    generated: tuple[list[Block], str, bool, str],
    value: str,
    java_properties: JavaPropertiesOracle,
) -> None:
    blocks, newline, final_newline, key = generated
    text = join_blocks(blocks, newline, final_newline)
    before = java_properties.load_bytes(text.encode("latin-1"))
    document = PropertiesDocument.parse_bytes(text.encode("latin-1"))
    assert document.items() == before
    if newline in text:
        assert document.newline == newline
    targets = [index for index, block in enumerate(blocks) if block.is_target]
    assert (key in before) == bool(targets)

    document.set(key, value)
    rendered = document.render()
    assert java_reads(java_properties, document) == {**before, key: value}

    if targets:
        last = targets[-1]
        kept_before = [block for block in blocks[:last] if not block.is_target]
        prefix = join_blocks(kept_before, newline, final_newline=True)
        suffix = join_blocks(blocks[last + 1 :], newline, final_newline)
        assert rendered.startswith(prefix) and rendered.endswith(suffix)
        middle = rendered[len(prefix) : len(rendered) - len(suffix)]
    else:
        ending = document.newline if newline in text else "\n"
        original = text + ending if text and not text.endswith(("\n", "\r")) else text
        assert rendered.startswith(original)
        middle = rendered[len(original) :]
    assert len(physical_lines(middle)) == 1


KEY_POOL = st.one_of(st.sampled_from(OTHER_NAMES), SPECIAL_TEXT)
EDITS = st.lists(st.tuples(st.sampled_from(["set", "remove"]), KEY_POOL, SPECIAL_TEXT), max_size=6)


@HYPOTHESIS
@given(
    blocks=st.lists(st.one_of(other_entries(), COMMENTS, BLANKS), max_size=8),
    newline=NEWLINES,
    final_newline=st.booleans(),
    edits=EDITS,
)
def test_a_series_of_edits_matches_what_java_reads(
    blocks: list[Block],
    newline: str,
    final_newline: bool,
    edits: list[tuple[str, str, str]],
    java_properties: JavaPropertiesOracle,
) -> None:
    text = join_blocks(blocks, newline, final_newline)
    expected = java_properties.load_bytes(text.encode("latin-1"))
    document = PropertiesDocument.parse_bytes(text.encode("latin-1"))
    comments = [block.text for block in blocks if block.text.lstrip(" \t").startswith(("#", "!"))]
    for action, key, value in edits:
        if action == "set":
            document.set(key, value)
            expected[key] = value
        else:
            document.remove(key)
            expected.pop(key, None)
        assert document.items() == expected
    assert java_reads(java_properties, document) == expected
    rendered_lines = physical_lines(document.render())
    # Comment lines are never touched; a last one without newline may have gained one.
    ending = document.newline
    assert all(line in rendered_lines or line + ending in rendered_lines for line in comments)


RAW_PIECES = st.sampled_from(
    [
        "a",
        "k",
        "=",
        ":",
        " ",
        "\t",
        "\f",
        "\\",
        "\\\\",
        "#",
        "!",
        "\n",
        "\r",
        "\r\n",
        "u",
        "0",
        "F",
        "\\u00e9",
        "\\uD83D\\uDE00",
        "\\u00",
        "\xe9",
        "\xff",
        "\x85",
    ]
)


@HYPOTHESIS
@given(pieces=st.lists(RAW_PIECES, max_size=30))
def test_our_reader_agrees_with_java_on_arbitrary_files(
    pieces: list[str], java_properties: JavaPropertiesOracle
) -> None:
    text = "".join(pieces)
    data = text.encode("latin-1")
    java = java_properties.outcome_of_bytes(data)
    if isinstance(java, JavaLoadError):
        with pytest.raises(PropertiesError, match="malformed"):
            load_properties(text)
        return
    assert load_properties(text) == java
    document = PropertiesDocument.parse_bytes(data)
    assert document.to_bytes() == data
    assert document.items() == java


# --- work per edit: independent of the file's size --------------------------------------------


class CountingKey(str):
    """A key that counts how often it is compared: a scan of every entry compares it each time."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountingKey.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def generated(entries: int) -> str:
    return "".join(f"# setting {n}\nplugin.{n}.value = some value {n}\n" for n in range(entries))


def edit_like_an_apply(document: PropertiesDocument) -> None:
    for name in ("credentialProvider", "access_key", "secret_key_path", "region"):
        assert document.get(CountingKey(f"aws.{name}")) is None
    document.set(CountingKey("aws.credentialProvider"), "instance")
    document.set(CountingKey("aws.region"), "eu-west-1")
    document.set(CountingKey("plugin.7.value"), "changed")
    document.set(CountingKey("plugin.8.value"), "changed")
    document.remove(CountingKey("plugin.9.value"))
    assert CountingKey("aws.region") in document


@pytest.mark.parametrize("entries", [2_000, 20_000])
def test_an_edit_compares_a_handful_of_keys_whatever_the_size(entries: int) -> None:
    document = PropertiesDocument.parse(generated(entries))
    CountingKey.comparisons = 0
    edit_like_an_apply(document)
    assert CountingKey.comparisons <= 40
    assert document.get("plugin.7.value") == "changed" and "plugin.9.value" not in document


@pytest.mark.parametrize("entries", [2_000, 20_000])
def test_the_file_is_read_once_and_an_edit_rereads_only_its_own_lines(entries: int) -> None:
    text = generated(entries)
    document = PropertiesDocument.parse(text)
    assert document.lines_read == len(physical_lines(text))
    edit_like_an_apply(document)
    assert document.lines_read - len(physical_lines(text)) <= 30


def test_an_apply_sized_edit_of_a_large_file_matches_java(
    java_properties: JavaPropertiesOracle,
) -> None:
    text = generated(5_000) + "tail.key = a \\\n   continued"
    document = PropertiesDocument.parse(text)
    expected = java_properties.load_bytes(text.encode("latin-1"))
    edit_like_an_apply(document)
    expected.update(
        {
            "aws.credentialProvider": "instance",
            "aws.region": "eu-west-1",
            "plugin.7.value": "changed",
            "plugin.8.value": "changed",
        }
    )
    del expected["plugin.9.value"]
    assert java_reads(java_properties, document) == expected == document.items()
    edited = ("plugin.7.value ", "plugin.8.value ", "plugin.9.value ")
    untouched = [line for line in physical_lines(text) if not line.startswith(edited)]
    rendered = physical_lines(document.render())
    kept = [line for line in rendered if not line.startswith(("plugin.7.", "plugin.8.", "aws."))]
    assert kept == [*untouched[:-1], untouched[-1] + "\n"]
    assert len(rendered) == len(untouched) + 4  # two replaced, two added, one removed
