"""Text, XML and JSON within limits: encoding policy, streaming lines, safe XML, deep JSON."""

from __future__ import annotations

import io
import tracemalloc

import pytest

from engines.core.errors import InputError
from engines.core.safe_text import (
    decode_text,
    open_text_limited,
    parse_json_safely,
    parse_xml_safely,
)


def test_decode_text_policy(tmp_path):
    path = tmp_path / "t.txt"
    assert decode_text(path, "\ufeffa,b".encode()) == "a,b"
    assert decode_text(path, "a\u00e9".encode("utf-16")) == "a\u00e9"
    assert decode_text(path, b"# 40 \xb0C\n1,2\n") == "# 40 \xb0C\n1,2\n"  # a few latin-1 bytes
    for data, words in ((b"\x00\x01", "binary"), (bytes(range(128, 256)) * 2, "encoding"),
                        (b"a\x07b", "binary")):
        with pytest.raises(InputError, match=words):
            decode_text(path, data)


def test_open_text_limited_lines_and_limits(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"a\r\nb\rc\n\nd")
    with open_text_limited(path, 100) as lines:
        assert list(lines) == [(1, "a"), (2, "b"), (3, "c"), (4, ""), (5, "d")]
    path.write_bytes(b"short\n" + b"x" * 101 + b"\n")
    with pytest.raises(InputError, match="t.txt: line 2 is longer than 100 characters"), \
            open_text_limited(path, 1000, max_line_chars=100) as lines:
        list(lines)
    path.write_bytes(b"1\n" * 50)
    with pytest.raises(InputError, match="more than 10 lines"), \
            open_text_limited(path, 1000, max_lines=10) as lines:
        list(lines)
    with pytest.raises(InputError, match="too large"):
        open_text_limited(path, 99)
    path.write_bytes(b"ok\nnot \x01 ok\n")
    with pytest.raises(InputError, match=r"binary data where text was expected \(line 2\)"), \
            open_text_limited(path, 1000) as lines:
        list(lines)


def test_open_text_limited_memory_follows_a_chunk_not_the_file(tmp_path):
    path = tmp_path / "big.txt"
    # 10 MB in 10 000 lines (few lines: tracemalloc is slow per allocation); the file held in
    # memory would pass 8 MiB
    path.write_bytes((b"12345,678," * 100 + b"\n") * 10_000)
    tracemalloc.start()
    try:
        with open_text_limited(path, 64 << 20) as text:
            n = sum(len(block) for _, block in text.blocks())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 10_000
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB for a 10 MB file"


# --------------------------------------------------------------------------- XML, JSON

def test_parse_xml_safely_reads_and_strips_namespaces():
    doc = b'<?xml version="1.0"?><r xmlns="urn:a" xmlns:b="urn:b"><b:x b:k="1">t</b:x></r>'
    root = parse_xml_safely(doc, "f.xml")
    assert root.tag == "{urn:a}r" and root[0].tag == "{urn:b}x"
    root = parse_xml_safely(io.BytesIO(doc), "f.xml", strip_namespaces=True)
    assert root.tag == "r" and root[0].tag == "x" and root[0].get("k") == "1"
    assert root[0].text == "t"


@pytest.mark.parametrize(("doc", "words"), [
    (b'<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>', "DOCTYPE/ENTITY"),
    (b'<!DOCTYPE r SYSTEM "http://example.com/r.dtd"><r/>', "DOCTYPE/ENTITY"),
    (b"<a>" * 100 + b"</a>" * 100, "nested deeper than 64"),
    (b"<r>" + b"<x/>" * 2000 + b"</r>", "more than 1000 elements"),
    (b'<?xml version="1.0" encoding="utf-32"?><r/>', "unsupported encoding"),
    (b'<?xml version="1.0" encoding="bogus"?><r/>', "unknown encoding"),
    (b"<r><unclosed></r>", "malformed XML"),
    (b"1 " + b"(" * 1000, "malformed XML"),
    (b"", "malformed XML"),
])
def test_parse_xml_safely_refuses(doc, words):
    with pytest.raises(InputError, match=words) as info:
        parse_xml_safely(doc, "f.xml", max_elements=1000)
    assert str(info.value).startswith("f.xml: ")


def test_parse_json_safely():
    assert parse_json_safely('{"a": [1, {"b": 2}]}', "m.json") == {"a": [1, {"b": 2}]}
    with pytest.raises(InputError, match="nested deeper than 64"):
        parse_json_safely("[" * 100 + "]" * 100, "m.json")
    with pytest.raises(InputError, match="nested deeper"):
        parse_json_safely("[" * 100_000 + "]" * 100_000, "m.json")  # RecursionError inside
    with pytest.raises(InputError, match=r"m.json: not valid JSON \(Expecting"):
        parse_json_safely("{truncated", "m.json")
    with pytest.raises(InputError, match="not UTF-8"):
        parse_json_safely(b'"\xff\xfe"', "m.json")


# --------------------------------------------------------------------------- mutmut survivors

def test_decode_text_messages_exactly(tmp_path):
    path = tmp_path / "t.txt"
    with pytest.raises(InputError, match=r"^t.txt: unreadable UTF-16 text$"):
        decode_text(path, b"\xff\xfea\x00\x00\xd8")  # a lone surrogate after the BOM
    with pytest.raises(InputError, match=r"^t.txt: binary data where text was expected$"):
        decode_text(path, b"a\x07b")


def _lines(path, max_bytes, **kw):
    from engines.core.safe_text import TextLines

    with TextLines(path, "utf-8", max_bytes, kw.get("max_line", 10**6), None) as lines:
        return [line for _, line in lines]


def test_text_lines_limit_counts_every_chunk_exactly(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("abcdefghi\n")  # 10 characters
    assert _lines(path, 10) == ["abcdefghi"]  # exactly the limit passes
    with pytest.raises(InputError, match=r"^g.txt: text grew past the limit of 9 bytes$"):
        _lines(path, 9)
    path.write_text(("x" * 99 + "\n") * 3000)  # 300 000 characters: two chunks of 256 k
    with pytest.raises(InputError, match="grew past the limit"):
        _lines(path, 290_000)


def test_text_lines_open_failure_and_the_files_encoding(tmp_path, monkeypatch):
    from pathlib import Path

    from engines.core.safe_text import TextLines

    path = tmp_path / "l.txt"
    path.write_bytes(b"# 40 \xb0C\nabc\n")
    with open_text_limited(path, 1000) as lines:  # latin-1, as the encoding check found
        assert [line for _, line in lines] == ["# 40 \u00b0C", "abc"]

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputError, match=r"^l.txt: cannot be read \(Permission denied\)$"):
        TextLines(path, "utf-8", 100, 100, None)


def test_binary_data_is_placed_on_its_line_in_a_later_chunk(tmp_path):
    path = tmp_path / "b.txt"
    body = ("y" * 99 + "\n") * 3000  # lines 1-3000 in about 1.1 chunks
    path.write_text(body + "ok\nbad \x01 here\n")
    with pytest.raises(InputError, match=r"^b.txt: binary data where text was expected "
                                         r"\(line 3002\)$"):
        with open_text_limited(path, 10**6) as lines:
            list(lines)


def test_parse_xml_limits_are_exact():
    def depth(n):
        return b"<a>" * n + b"</a>" * n
    assert parse_xml_safely(depth(3), "f.xml", max_depth=3) is not None
    with pytest.raises(InputError, match=r"^f.xml: XML nested deeper than 3 elements$"):
        parse_xml_safely(depth(4), "f.xml", max_depth=3)
    # depth goes down again at each end: siblings after a deep branch are counted right
    with pytest.raises(InputError, match="nested deeper than 3"):
        parse_xml_safely(b"<r><a><b/><c><d/></c></a></r>", "f.xml", max_depth=3)
    with pytest.raises(InputError, match="nested deeper than 2"):
        parse_xml_safely(b"<r><a/><b><c/></b></r>", "f.xml", max_depth=2)
    assert len(parse_xml_safely(b"<r><x/><x/></r>", "f.xml", max_elements=3)) == 2
    with pytest.raises(InputError, match=r"^f.xml: XML with more than 3 elements$"):
        parse_xml_safely(b"<r><x/><x/><x/></r>", "f.xml", max_elements=3)
    with pytest.raises(InputError, match=r"^f.xml: XML with DOCTYPE/ENTITY declarations is "
                                         r"refused \(entity expansion could exhaust memory\)$"):
        parse_xml_safely(b"<!DOCTYPE r><r/>", "f.xml")


def test_parse_json_messages_exactly():
    with pytest.raises(InputError, match=r"^m.json: JSON that is not UTF-8 text$"):
        parse_json_safely(b'"\xff\xfe\xfd"', "m.json")
    with pytest.raises(InputError, match=r"^m.json: not valid JSON \(Exceeds the limit \(4300 "
                                         r"digits\) for integer string conversion\)$"):
        parse_json_safely("[" + "9" * 5000 + "]", "m.json")
