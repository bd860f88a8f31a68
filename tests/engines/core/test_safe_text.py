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


def test_a_file_of_exactly_the_limit_is_read_to_its_last_byte(tmp_path):
    path = tmp_path / "x.txt"
    data = b"1,2\n" * (1 << 18) + b"\xb0"  # 1 MiB + 1: the only latin-1 byte is the last
    path.write_bytes(data)
    with open_text_limited(path, len(data)) as lines:
        assert lines.encoding == "latin-1"
        got = [line for _, line in lines]
    assert len(got) == (1 << 18) + 1 and got[-2:] == ["1,2", "\u00b0"]


def test_open_text_limited_names_the_file_in_every_refusal(tmp_path, monkeypatch):
    from pathlib import Path

    path = tmp_path / "n.txt"
    path.write_bytes(b"1,2\n\x00\x00")
    with pytest.raises(InputError, match=r"^n.txt: binary data where text was expected$"):
        open_text_limited(path, 100)

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)  # the size check passes, the read fails
    with pytest.raises(InputError, match=r"^n.txt: cannot be read \(Permission denied\)$"):
        open_text_limited(path, 100)


def test_parse_json_depth_limit_is_exact_for_lists_and_objects():
    assert parse_json_safely("[[[1]]]", "m.json", max_depth=3) == [[[1]]]
    with pytest.raises(InputError, match=r"^m.json: JSON nested deeper than 3 levels$"):
        parse_json_safely("[[[[1]]]]", "m.json", max_depth=3)
    assert parse_json_safely('{"a": [{"b": 1}]}', "m.json", max_depth=3)["a"][0]["b"] == 1
    with pytest.raises(InputError, match="nested deeper than 3"):
        parse_json_safely('{"a": {"b": {"c": {}}}, "d": 1}', "m.json", max_depth=3)


def test_line_count_limit_is_exact_with_or_without_a_final_line_break(tmp_path):
    path = tmp_path / "c.txt"
    for data, ok in ((b"1\n" * 10, True), (b"1\n" * 9 + b"1", True), (b"1\n" * 11, False),
                     (b"1\n" * 10 + b"1", False)):  # 11 lines, the last without a break
        path.write_bytes(data)
        with open_text_limited(path, 1000, max_lines=10) as lines:
            if ok:
                assert len(list(lines)) == 10
            else:
                with pytest.raises(InputError, match=r"^c.txt: more than 10 lines$"):
                    list(lines)


def test_line_length_limit_is_exact(tmp_path):
    path = tmp_path / "w.txt"
    path.write_bytes(b"x" * 100 + b"\n" + b"y" * 100)
    with open_text_limited(path, 1000, max_line_chars=100) as lines:
        assert [len(line) for _, line in lines] == [100, 100]
    path.write_bytes(b"x" * 100 + b"\n" + b"y" * 101)
    with pytest.raises(InputError, match=r"^w.txt: line 2 is longer than 100 characters$"), \
            open_text_limited(path, 1000, max_line_chars=100) as lines:
        list(lines)


def test_control_character_line_counts_leading_line_breaks(tmp_path):
    path = tmp_path / "z.txt"
    path.write_bytes(b"\n\nx\x01\n")
    with pytest.raises(InputError, match=r"\(line 3\)$"), open_text_limited(path, 100) as lines:
        list(lines)


@pytest.mark.parametrize(("data", "encoding"), [
    (b"a" * 200 + b"\xb0" * 16, "latin-1"),  # up to 16 legacy bytes in a short text
    (b"a" * 200 + b"\xb0" * 17, None),
    (b"a" * 9900 + b"\xe9" * 100, "latin-1"),  # at most 1 % in longer texts: 100 of 10 000
    (b"a" * 9899 + b"\xe9" * 100, None),  # 100 of 9 999
    (b"a" * 9999 + b"\xe9" * 101, "latin-1"),  # 101 of 10 100
    (b"a" * 300 + b"\x80" * 17, None),  # 0x80 (cp1252's euro sign) is a legacy byte too
    (b"caf\xc3", "latin-1"),  # a UTF-8 sequence cut off at the end is not UTF-8
])
def test_legacy_byte_share_is_exact(tmp_path, data, encoding):
    path = tmp_path / "e.txt"
    if encoding is None:
        with pytest.raises(InputError,
                           match=r"^e.txt: unreadable encoding \(not UTF-8 or plain text\)$"):
            decode_text(path, data)
    else:
        assert decode_text(path, data) == data.decode(encoding)


def test_encoding_is_settled_over_every_chunk_of_a_large_file(tmp_path):
    path = tmp_path / "big.txt"
    mib = 1 << 20
    # 52 legacy bytes in three chunks (2 MiB + 154 bytes): far below 1 % of the whole file,
    # above 16; "\xff\xfe" at the start of the second chunk is no BOM
    path.write_bytes(b"a" * (mib - 1) + b"\n" + b"\xff\xfe" + b" \xb0C" * 50 + b"\n"
                     + b"b" * mib + b"\n")
    with open_text_limited(path, 4 * mib) as lines:
        assert lines.encoding == "latin-1"
        assert [line[:5] for _, line in lines][1:] == ["\u00ff\u00fe \u00b0C", "bbbbb"]
    # more than 1 % legacy bytes, all in the first chunk: refused
    path.write_bytes(b"\xe9" * 30_000 + b"a" * (mib - 30_000) + b"c" * mib)
    with pytest.raises(InputError, match="unreadable encoding"):
        open_text_limited(path, 4 * mib)


def test_text_lines_decoding_and_read_errors_name_the_line(tmp_path):
    from engines.core.safe_text import TextLines

    path = tmp_path / "u.txt"
    path.write_bytes(b"ok\n\xff\n")
    with pytest.raises(InputError, match=r"^u.txt: unreadable UTF-8 text after line 1$"), \
            TextLines(path, "utf-8", 100, 100, None) as lines:
        list(lines)

    class Failing:
        def read(self, size):
            raise OSError(5, "Input/output error")

        def close(self):
            pass

    with TextLines(path, "latin-1", 100, 100, None) as lines:
        lines._handle.close()
        lines._handle = Failing()  # e.g. a network drive gone in the middle of a read
        with pytest.raises(InputError, match=r"^u.txt: cannot be read \(Input/output error\)$"):
            list(lines)
