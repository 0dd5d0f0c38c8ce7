"""The MQL5 → C++ translation step (tests/ea/translate.py): what it rewrites, what it keeps, what it refuses."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.ea.translate import OUTPUT_MARKER, main, translate_tree


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def translated(tmp_path: Path, source: str, name: str = "Include/Probe.mqh") -> list[str]:
    """The translated lines of one file (without the leading #pragma/#line), after a successful translation."""
    root = make_tree(tmp_path / "mql5", {name: source})
    translation = translate_tree(root, tmp_path / "out", None)
    assert [str(error) for error in translation.errors] == []
    lines = (tmp_path / "out" / name).read_text(encoding="utf-8").split("\n")
    header = 2 if name.endswith(".mqh") else 1
    return lines[header:-1]


def errors(tmp_path: Path, source: str, expert: str | None = None) -> list[str]:
    root = make_tree(tmp_path / "mql5", {"Experts/Probe.mq5": source})
    translation = translate_tree(root, tmp_path / "out", Path(expert) if expert else None)
    return [f"{error.line}: {error.message}" for error in translation.errors]


def test_properties_groups_and_imports_become_empty_lines(tmp_path: Path) -> None:
    source = """
        #property copyright "Me, \\"quoted\\" // not a comment"
        #property version   "1.00"
        #property strict
        #property indicator_color1 clrRed // trailing comment
        input group "Common"
        #import "shell32.dll"
        int ShellExecuteW(long hwnd, string operation, string file, string parameters, string directory, int show);
        #import "advapi32.dll"
        bool SystemFunction036(uchar &buffer[], uint length);
        #import
        int kept = 1;
        """
    assert translated(tmp_path, source) == [""] * 10 + ["int kept = 1;", ""]


def test_inputs_become_plain_globals_in_the_same_columns(tmp_path: Path) -> None:
    source = """
        input int    InpPort = 5555;          // Sidecar port
        sinput string InpName = "a;b // c";   // label
        input double InpRatio;
        """
    assert translated(tmp_path, source)[:3] == [
        "      int    InpPort = 5555;          // Sidecar port",
        '       string InpName = "a;b // c";   // label',
        "      double InpRatio;",
    ]


def test_dynamic_arrays_become_mql_arrays(tmp_path: Path) -> None:
    source = """
        string g_parts[];
        static uchar s_buffer[], s_other[]; // two at once
        int Sum(const int &values[], double &out[], int fixed_size)
          {
           int local[4];
           string names[] = {"a", "b"};
           MqlTradeTransaction queue[];
           return(0);
          }
        int operator[](int index) const;
        """
    assert translated(tmp_path, source)[:10] == [
        "MqlArray<string> g_parts;",
        "static MqlArray<uchar> s_buffer, s_other; // two at once",
        "int Sum(const MqlArray<int> &values, MqlArray<double> &out, int fixed_size)",
        "  {",
        "   int local[4];",
        '   string names[] = {"a", "b"};',
        "   MqlArray<MqlTradeTransaction> queue;",
        "   return(0);",
        "  }",
        "int operator[](int index) const;",
    ]


def test_comments_and_strings_are_left_alone(tmp_path: Path) -> None:
    source = """
        // input int commented = 1; string parts[];
        /* #property nothing here
           input int x = 2;  uchar b[]; */
        string text = "input int y = 3; a[] #property";
        """
    lines = translated(tmp_path, source)
    assert lines[:4] == [line for line in textwrap.dedent(source).lstrip("\n").split("\n")[:4]]


def test_string_literal_forms_that_cpp_reads_differently(tmp_path: Path) -> None:
    source = """
        string a = "one " + "two" + suffix;
        string b = "long text, " +
                   "continued";
        string c = flag ? "true" : "false";
        string d = flag ? "x" : name;
        """
    assert translated(tmp_path, source)[:5] == [
        'string a = "one "   "two" + suffix;',
        'string b = "long text, "  ',
        '           "continued";',
        'string c = flag ? (string)"true" : (string)"false";',
        'string d = flag ? "x" : name;',
    ]


def test_datetime_and_color_literals(tmp_path: Path) -> None:
    source = """
        datetime start = D'2023.11.14 22:13:20';
        datetime day = D'2024.01.02';
        color tint = C'255,128,0';
        color hex = C'0x00,0x80,0xFF';
        """
    assert translated(tmp_path, source)[:4] == [
        "datetime start = ((datetime)1700000000L);",
        "datetime day = ((datetime)1704153600L);",
        "color tint = ((color)0x0080FF);",
        "color hex = ((color)0xFF8000);",
    ]


def test_includes_keep_their_form_with_forward_slashes(tmp_path: Path) -> None:
    source = """
        #include <Trade\\Trade.mqh>
        #include "Local.mqh"
        """
    assert translated(tmp_path, source)[:2] == ["#include <Trade/Trade.mqh>", '#include "Local.mqh"']


def test_line_numbers_are_kept_and_named_after_the_original(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "mql5", {"Include/A.mqh": "#property strict\nint x;\n", "Experts/E.mq5": "int y;\n"})
    translate_tree(root, tmp_path / "out", None)
    header = (tmp_path / "out" / "Include" / "A.mqh").read_text().split("\n")
    assert header[:4] == ["#pragma once", f'#line 1 "{root.resolve() / "Include" / "A.mqh"}"', "", "int x;"]
    assert (tmp_path / "out" / "Experts" / "E.mq5").read_text().split("\n")[:2] == [
        f'#line 1 "{root.resolve() / "Experts" / "E.mq5"}"',
        "int y;",
    ]


def test_enums_get_enum_to_string_and_inputs_get_a_setter(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "mql5",
        {
            "Include/Lib/Defines.mqh": """
                enum ENUM_CONNECTOR
                  {
                   CONNECTOR_IB,        // Interactive Brokers
                   CONNECTOR_PAPER = 4, // Paper
                  };
                input string InpLibrary = "lib"; // declared in an include
                """,
            "Experts/Probe.mq5": """
                #include <Lib\\Defines.mqh>
                input ENUM_CONNECTOR InpConnector = CONNECTOR_PAPER;
                input ulong InpMagic = 0;
                input bool InpFlag = true;
                """,
            "Include/Unused.mqh": "input int InpNotIncluded = 1;\n",
        },
    )
    translation = translate_tree(root, tmp_path / "out", Path("Experts/Probe.mq5"))
    assert translation.errors == []
    assert [variable.name for variable in translation.inputs] == ["InpLibrary", "InpConnector", "InpMagic", "InpFlag"]
    defines = (tmp_path / "out" / "Include" / "Lib" / "Defines.mqh").read_text().split("\n")
    enum_close = defines[2 + 4]  # after the #pragma and #line header lines
    assert enum_close.startswith("  }; inline string EnumToString(ENUM_CONNECTOR value) {")
    assert 'if (value == CONNECTOR_PAPER) return "CONNECTOR_PAPER";' in enum_close
    expert = (tmp_path / "out" / "Experts" / "Probe.mq5").read_text()
    assert 'const char *__csmc_program_name() { return "Probe"; }' in expert
    assert 'if (value == "CONNECTOR_IB") { InpConnector = CONNECTOR_IB; return; }' in expert
    assert "InpMagic = (ulong)mql_detail::input_unsigned(name, value, ULONG_MAX);" in expert
    assert "InpFlag = mql_detail::input_bool(name, value);" in expert
    assert "InpLibrary = string::from_utf8(value);" in expert
    assert "InpNotIncluded" not in expert
    assert '{ return {"InpLibrary", "InpConnector", "InpMagic", "InpFlag"}; }' in expert


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("#property version 1.0 beta\n", "1: malformed #property"),
        ("#property\n", "1: malformed #property"),
        ("int a;\ninput int A = 1, B = 2;\n", "2: one input per declaration"),
        ("input int A, B;\n", "1: an input must be declared alone on its line"),
        ("int a; input int A = 1;\n", "1: an input must be declared alone on its line"),
        ("input int A =\n  1;\n", "1: an input must be declared alone on its line"),
        ('#import "x.dll"\nint F();\n', '1: #import block is not closed by a plain "#import" line'),
        ("#import\n", '1: "#import" closes a block that was never opened'),
        ("#import x.dll\n", "1: malformed #import"),
        ("#include Lib.mqh\n", "1: malformed #include"),
        ('#resource "\\\\Images\\\\a.bmp"\n', "1: #resource is not supported"),
        ("int a[], b;\n", "1: cannot translate this '[]'"),
        ("void F(int a[]);\n", "1: cannot translate this '[]'"),
        ("double grid[][4];\n", "1: multi-dimensional dynamic arrays are not supported"),
        ("CObject *items[];\n", "1: cannot translate this '[]'"),
        ("datetime t = D'2023.13.45';\n", "1: malformed literal D'2023.13.45'"),
        ("enum E { A, 1B };\n", "1: malformed enumerator in enum E: '1B'"),
    ],
)
def test_lines_that_must_be_rewritten_but_do_not_fit_are_errors(tmp_path: Path, source: str, expected: str) -> None:
    found = errors(tmp_path, source)
    assert any(error.startswith(expected) for error in found), found
    assert not (tmp_path / "out").exists()


def test_input_types_must_be_settable(tmp_path: Path) -> None:
    found = errors(tmp_path, "input ENUM_TIMEFRAMES InpPeriod = PERIOD_H1;\n", expert="Experts/Probe.mq5")
    assert found == [
        "1: input type 'ENUM_TIMEFRAMES' is not supported (use a number type, bool, string, datetime, "
        "color or an enum defined in the sources)"
    ]


def test_include_spelled_in_another_case_is_an_error(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "mql5",
        {"Include/Lib/Defines.mqh": "int x;\n", "Experts/Probe.mq5": "int y;\n#include <lib/defines.mqh>\n"},
    )
    translation = translate_tree(root, tmp_path / "out", Path("Experts/Probe.mq5"))
    assert [f"{error.line}: {error.message}" for error in translation.errors] == [
        "2: #include 'lib/defines.mqh' matches 'Lib/Defines.mqh' only ignoring case: spell it as on disk "
        "(file names are case-sensitive here)"
    ]


def test_missing_expert_is_an_error(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "mql5", {"Include/A.mqh": "int x;\n"})
    translation = translate_tree(root, tmp_path / "out", Path("Experts/Nope.mq5"))
    assert [error.message for error in translation.errors] == ["the expert's source file does not exist"]


def test_sources_with_a_byte_order_mark_are_read_as_unicode(tmp_path: Path) -> None:
    root = tmp_path / "mql5"
    (root / "Include").mkdir(parents=True)
    (root / "Include" / "Wide.mqh").write_bytes('string a = "€";\r\n'.encode("utf-16"))
    (root / "Include" / "Marked.mqh").write_bytes('// ü\nstring b = "→";\n'.encode("utf-8-sig"))
    (root / "Include" / "Ascii.mqh").write_bytes(b'string c = "plain";\r\n')
    translation = translate_tree(root, tmp_path / "out", None)
    assert translation.errors == []
    assert (tmp_path / "out" / "Include" / "Wide.mqh").read_text(encoding="utf-8").split("\n")[2] == 'string a = "€";'
    assert (tmp_path / "out" / "Include" / "Marked.mqh").read_text(encoding="utf-8").split("\n")[3] == 'string b = "→";'


@pytest.mark.parametrize(
    ("raw", "line", "shown"),
    [
        ('int a;\nstring b = "a → b";\n'.encode(), 2, "'→' (U+2192)"),  # UTF-8 without a byte-order mark
        ("// ok\n// café\n".encode("cp1252"), 2, "'é' (U+00E9)"),  # the ANSI code page, even in a comment
    ],
    ids=["utf-8", "ansi"],
)
def test_non_ascii_text_without_a_byte_order_mark_is_refused(tmp_path: Path, raw: bytes, line: int, shown: str) -> None:
    root = tmp_path / "mql5"
    (root / "Include").mkdir(parents=True)
    (root / "Include" / "Bare.mqh").write_bytes(raw)
    translation = translate_tree(root, tmp_path / "out", None)
    assert [(error.line, error.message.split(":")[0]) for error in translation.errors] == [
        (line, f"non-ASCII character {shown} in a file without a byte-order mark")
    ]
    assert "ShortToString(0x" in translation.errors[0].message


def test_every_translation_starts_from_an_empty_output(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "mql5", {"Include/A.mqh": "int a;\n", "Include/B.mqh": "int b;\n"})
    out = tmp_path / "out"
    translate_tree(root, out, None)
    (root / "Include" / "B.mqh").unlink()
    translate_tree(root, out, None)
    assert sorted(path.name for path in (out / "Include").iterdir()) == ["A.mqh"]
    assert (out / OUTPUT_MARKER).exists()


def test_an_output_directory_it_did_not_write_is_never_cleared(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "mql5", {"Include/A.mqh": "int a;\n"})
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit, match="refusing to clear it"):
        translate_tree(root, precious, None)
    assert (precious / "keep.txt").read_text() == "mine"


def test_command_line_reports_errors_as_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_tree(tmp_path / "mql5", {"Experts/Probe.mq5": "int ok;\n#property version 1 2\n"})
    status = main(["--mql5-root", str(root), "--out", str(tmp_path / "out")])
    assert status == 1
    assert (
        capsys.readouterr().err == f"{root.resolve() / 'Experts' / 'Probe.mq5'}:2: error: malformed #property "
        "(expected '#property name [string | number | identifier]')\n"
    )
