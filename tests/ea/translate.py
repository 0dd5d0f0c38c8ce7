"""Translate an MQL5 source tree into C++ that g++ compiles against the runtime shim (tests/ea/shim/mql5.h).

Only what C++ cannot parse is rewritten, and every line that needs rewriting must match the expected form,
otherwise translation fails with ``file:line: error: message``: a mistake anywhere in the MQL5 sources still
fails the build. Nothing else is dropped or repaired. Line numbers are kept, and every translated file starts
with a ``#line`` directive naming its original, so compiler messages point at the MQL5 source. The exact
rules are in tests/ea/README.md.

    python tests/ea/translate.py [--mql5-root DIR] --out DIR [--expert Experts/X.mq5]
"""

from __future__ import annotations

import argparse
import calendar
import itertools
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_SUFFIXES = (".mq5", ".mqh")
# Written into every output directory, so that a later run may clear it without risking anything else.
OUTPUT_MARKER = ".translated-mql5"

IDENTIFIER = r"[A-Za-z_]\w*"
PROPERTY_RE = re.compile(rf"^\s*#\s*property\s+{IDENTIFIER}(?:\s+(?:\"_*\"|-?\d+(?:\.\d+)?|{IDENTIFIER}))?\s*$")
IMPORT_OPEN_RE = re.compile(r'^\s*#\s*import\s+"_+"\s*$')
IMPORT_CLOSE_RE = re.compile(r"^\s*#\s*import\s*$")
INCLUDE_RE = re.compile(r'^(\s*#\s*include\s*)(<[^<>"]+>|"_+")\s*$')
DIRECTIVE_RE = re.compile(r"^\s*#\s*(\w+)")
INPUT_GROUP_RE = re.compile(r'^\s*input\s+group\s+"_*"\s*;?\s*$')
INPUT_RE = re.compile(
    rf"^(?P<indent>\s*)(?P<keyword>input|sinput)(?P<gap>\s+)(?P<type>{IDENTIFIER})\s+(?P<name>{IDENTIFIER})"
    r"\s*(?:=\s*(?P<value>[^;]+?))?\s*;\s*$"
)
INPUT_WORD_RE = re.compile(r"\b(?:input|sinput)\b")
EMPTY_BRACKETS_RE = re.compile(r"\[\s*\]")
ARRAY_DECLARATION_RE = re.compile(
    rf"^\s*(?:(?:static|const)\s+)*(?P<type>{IDENTIFIER})\s+"
    rf"(?P<names>{IDENTIFIER}\s*\[\s*\](?:\s*,\s*{IDENTIFIER}\s*\[\s*\])*)\s*;\s*$"
)
ARRAY_PARAMETER_RE = re.compile(rf"\b(?P<type>{IDENTIFIER})\s*&\s*(?P<name>{IDENTIFIER})(?P<brackets>\s*\[\s*\])")
ENUM_RE = re.compile(rf"\benum\s+(?P<name>{IDENTIFIER})\s*\{{(?P<body>[^{{}}]*)\}}\s*;")
ENUMERATOR_RE = re.compile(rf"^\s*(?P<name>{IDENTIFIER})\s*(?:=\s*\S.*)?$", re.DOTALL)
LITERAL_RE = re.compile(r"\b(?P<kind>[DC])'(?P<body>_*)'")
DATETIME_RE = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
COLOR_COMPONENT = r"\s*(0[xX][0-9A-Fa-f]{1,2}|\d{1,3})\s*"
COLOR_RE = re.compile(rf"^{COLOR_COMPONENT},{COLOR_COMPONENT},{COLOR_COMPONENT}$")
NOT_ARRAY_TYPES = {"return", "case", "delete", "new", "else", "goto", "sizeof", "operator"}

INTEGER_INPUTS: dict[str, tuple[str, str]] = {
    "char": ("SCHAR_MIN", "SCHAR_MAX"),
    "short": ("SHRT_MIN", "SHRT_MAX"),
    "int": ("INT_MIN", "INT_MAX"),
    "long": ("LONG_MIN", "LONG_MAX"),
    "datetime": ("LONG_MIN", "LONG_MAX"),
}
UNSIGNED_INPUTS: dict[str, str] = {
    "uchar": "UCHAR_MAX",
    "ushort": "USHRT_MAX",
    "uint": "UINT_MAX",
    "ulong": "ULONG_MAX",
    "color": "UINT_MAX",
}
OTHER_INPUTS = {"bool", "double", "float", "string"}


class TranslationError(Exception):
    """A line the translator had to rewrite but could not: reported as ``file:line: error: message``."""

    def __init__(self, shown_path: str, line: int, message: str) -> None:
        super().__init__(f"{shown_path}:{line}: error: {message}")
        self.shown_path = shown_path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class InputVariable:
    name: str
    type_name: str
    shown_path: str
    line: int


@dataclass(frozen=True)
class EnumType:
    name: str
    members: tuple[str, ...]


@dataclass
class SourceFile:
    relative: Path
    shown_path: str
    lines: list[str]
    includes: list[tuple[int, str, str]] = field(default_factory=list)  # (line, "<" or '"', target)
    inputs: list[InputVariable] = field(default_factory=list)
    enums: list[EnumType] = field(default_factory=list)


@dataclass
class Translation:
    files: dict[Path, SourceFile]
    inputs: list[InputVariable]
    enums: dict[str, EnumType]
    errors: list[TranslationError]


def shown(path: Path) -> str:
    """The path as messages show it: relative to the working directory when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def read_source(path: Path) -> list[str]:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            # MetaEditor also saves in the Windows ANSI code page.
            text = raw.decode("cp1252")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def encoding_problem(path: Path, lines: list[str]) -> tuple[int, str] | None:
    """A non-ASCII character in a file without a byte-order mark: (line, message), else None.

    MetaEditor reads a file with a byte-order mark as UTF-8 or UTF-16; how it reads one without is not
    documented (the local ANSI code page, as far as is known), so such a file must be plain ASCII to read the
    same everywhere.
    """
    if path.read_bytes().startswith(BYTE_ORDER_MARKS):
        return None
    for number, line in enumerate(lines, start=1):
        for char in line:
            if ord(char) > 0x7F:
                code = f"{ord(char):04X}"
                return number, (
                    f"non-ASCII character '{char}' (U+{code}) in a file without a byte-order mark: MetaEditor may "
                    f"read it in another code page and garble it. Build the character from its code (e.g. "
                    f"ShortToString(0x{code})) or save the file as UTF-8 with a byte-order mark"
                )
    return None


def mask_code(lines: list[str]) -> list[str]:
    """Each line with comments blanked and literal contents replaced by '_', keeping every column."""
    masked: list[str] = []
    in_block_comment = False
    for line in lines:
        chars = list(line)
        i = 0
        size = len(line)
        while i < size:
            if in_block_comment:
                end = line.find("*/", i)
                stop = size if end < 0 else end + 2
                chars[i:stop] = " " * (stop - i)
                i = stop
                in_block_comment = end < 0
                continue
            pair = line[i : i + 2]
            if pair == "//":
                chars[i:] = " " * (size - i)
                break
            if pair == "/*":
                chars[i : i + 2] = "  "
                in_block_comment = True
                i += 2
                continue
            quote = line[i]
            if quote in "\"'":
                j = i + 1
                while j < size and line[j] != quote:
                    j += 2 if line[j] == "\\" else 1
                end = min(j, size)
                chars[i + 1 : end] = "_" * (end - i - 1)
                i = end + 1
                continue
            i += 1
        masked.append("".join(chars))
    return masked


def split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses, brackets and braces."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def join_string_literals(lines: list[str]) -> list[str]:
    """Rewrite the two MQL5 forms that C++ rejects because a literal is a char array there, not a string.

    `"a" + "b"` becomes `"a"   "b"` (C++ joins adjacent literals); `c ? "a" : "bc"` becomes
    `c ? (string)"a" : (string)"bc"`. Both mean exactly what they mean in MQL5.
    """
    text = "\n".join(lines)
    masked = "\n".join(mask_code(lines))
    # Comments are blanked and literal contents masked, so every remaining double quote delimits a literal.
    quotes = [index for index, char in enumerate(masked) if char == '"']
    literals = list(zip(quotes[0::2], quotes[1::2], strict=False))
    chars = list(text)
    groups: list[tuple[int, int]] = []
    for position, (start, end) in enumerate(literals):
        previous_end = literals[position - 1][1] if position > 0 else -1
        between = masked[previous_end + 1 : start]
        if position > 0 and re.fullmatch(r"\s*\+\s*", between):
            plus = previous_end + 1 + between.index("+")
            chars[plus] = " "
            between = between.replace("+", " ")
        if position > 0 and between.strip() == "":
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    casts: list[int] = []
    for (first_start, first_end), (second_start, _) in itertools.pairwise(groups):
        before = first_start - 1
        while before >= 0 and masked[before].isspace():
            before -= 1
        after_question_mark = before >= 0 and masked[before] == "?"
        if after_question_mark and re.fullmatch(r"\s*:\s*", masked[first_end + 1 : second_start]):
            casts += [first_start, second_start]
    for index in sorted(casts, reverse=True):
        chars.insert(index, "(string)")
    return "".join(chars).split("\n")


def datetime_literal(body: str) -> str | None:
    match = DATETIME_RE.match(body.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(group) if group else 0 for group in match.groups())
    try:
        return f"((datetime){calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))}L)"
    except (ValueError, OverflowError):
        return None


def color_literal(body: str) -> str | None:
    match = COLOR_RE.match(body)
    if match is None:
        return None
    red, green, blue = (int(component, 0) for component in match.groups())
    if max(red, green, blue) > 255:
        return None
    return f"((color)0x{blue:02X}{green:02X}{red:02X})"


class FileTranslator:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.errors: list[TranslationError] = []

    def error(self, line_number: int, message: str) -> None:
        self.errors.append(TranslationError(self.source.shown_path, line_number, message))

    def run(self) -> None:
        lines = self.source.lines
        masked = mask_code(lines)
        self.collect_enums(masked)
        import_open_at: int | None = None
        for index, code in enumerate(masked):
            number = index + 1
            directive = DIRECTIVE_RE.match(code)
            name = directive.group(1) if directive else None
            if import_open_at is not None:
                if name == "import":
                    import_open_at = self.import_directive(code, number, import_open_at)
                lines[index] = ""
                continue
            if name == "property":
                if not PROPERTY_RE.match(code):
                    self.error(number, "malformed #property (expected '#property name [string | number | identifier]')")
                lines[index] = ""
            elif name == "import":
                import_open_at = self.import_directive(code, number, None)
                lines[index] = ""
            elif name == "include":
                lines[index] = self.include_directive(lines[index], code, number)
            elif name == "resource":
                self.error(number, "#resource is not supported by the test harness")
            elif name is None:
                lines[index] = self.code_line(lines[index], code, number)
        if import_open_at is not None:
            self.error(import_open_at, '#import block is not closed by a plain "#import" line')
        self.source.lines = join_string_literals(lines)

    def import_directive(self, code: str, number: int, open_at: int | None) -> int | None:
        if IMPORT_OPEN_RE.match(code):
            return number  # a new block also ends the one before it
        if IMPORT_CLOSE_RE.match(code):
            if open_at is None:
                self.error(number, '"#import" closes a block that was never opened')
            return None
        self.error(number, 'malformed #import (expected \'#import "library"\' or a plain "#import")')
        return open_at

    def include_directive(self, line: str, code: str, number: int) -> str:
        match = INCLUDE_RE.match(code)
        if match is None:
            self.error(number, 'malformed #include (expected #include <path> or #include "path")')
            return line
        start, end = match.span(2)
        delimiter = line[start]
        target = line[start + 1 : end - 1].replace("\\", "/")
        self.source.includes.append((number, delimiter, target))
        closing = ">" if delimiter == "<" else '"'
        return line[:start] + delimiter + target + closing + line[end:]

    def code_line(self, line: str, code: str, number: int) -> str:
        if INPUT_GROUP_RE.match(code):
            return ""
        input_match = INPUT_RE.match(code)
        if input_match is not None:
            line = self.input_declaration(line, input_match, number)
        elif INPUT_WORD_RE.search(code):
            self.error(
                number,
                "an input must be declared alone on its line: 'input TYPE Name = value; // label' "
                "(or 'input group \"Title\"')",
            )
            return line
        line = self.dynamic_arrays(line, code, number)
        if LITERAL_RE.search(code):
            line = self.special_literals(line, number)
        return line

    def input_declaration(self, line: str, match: re.Match[str], number: int) -> str:
        value = match.group("value")
        if value is not None and len(split_top_level(value)) > 1:
            self.error(number, "one input per declaration")
        self.source.inputs.append(
            InputVariable(match.group("name"), match.group("type"), self.source.shown_path, number)
        )
        start, end = match.span("keyword")
        return line[:start] + " " * (end - start) + line[end:]

    def dynamic_arrays(self, line: str, code: str, number: int) -> str:
        brackets = [m for m in EMPTY_BRACKETS_RE.finditer(code) if not re.search(r"\boperator\s*$", code[: m.start()])]
        if not brackets:
            return line
        declaration = ARRAY_DECLARATION_RE.match(code)
        if declaration is not None and declaration.group("type") not in NOT_ARRAY_TYPES:
            names_start, names_end = declaration.span("names")
            names = EMPTY_BRACKETS_RE.sub("", line[names_start:names_end])
            return self.array_type(line[:names_start], declaration) + names + line[names_end:]
        edits: list[re.Match[str]] = []
        problems: list[str] = []
        for bracket in brackets:
            tail = code[bracket.end() :]
            if re.match(r"\s*\[", tail):
                problems.append("multi-dimensional dynamic arrays are not supported")
                continue
            if re.match(r"\s*=", tail):
                continue  # `T name[] = {...}`: sized by its initializer, valid C++ as it stands
            parameter = next(
                (m for m in ARRAY_PARAMETER_RE.finditer(code) if m.end("brackets") == bracket.end()),
                None,
            )
            if parameter is None or parameter.group("type") in NOT_ARRAY_TYPES:
                problems.append(
                    "cannot translate this '[]': expected a declaration 'TYPE a[];' (or 'TYPE a[], b[];') "
                    "alone on its line, or a parameter 'TYPE &name[]'"
                )
                continue
            edits.append(parameter)
        if problems:
            self.error(number, problems[0])
            return line
        for edit in sorted(edits, key=lambda m: m.start(), reverse=True):
            bracket_start, bracket_end = edit.span("brackets")
            line = self.array_type(line[:bracket_start], edit) + line[bracket_end:]
        return line

    @staticmethod
    def array_type(head: str, match: re.Match[str]) -> str:
        """`head` (the line up to the array's brackets) with the element type wrapped in MqlArray<>."""
        type_start, type_end = match.span("type")
        return head[:type_start] + f"MqlArray<{match.group('type')}>" + head[type_end:]

    def special_literals(self, line: str, number: int) -> str:
        code = mask_code([line])[0]
        for match in reversed(list(LITERAL_RE.finditer(code))):
            body = line[match.start("body") : match.end("body")]
            if match.group("kind") == "D":
                replacement = datetime_literal(body)
                expected = "D'yyyy.mm.dd [hh:mi[:ss]]'"
            else:
                replacement = color_literal(body)
                expected = "C'r,g,b' with decimal or 0x components"
            if replacement is None:
                self.error(number, f"malformed literal {match.group(0)[0]}'{body}' (expected {expected})")
                continue
            line = line[: match.start()] + replacement + line[match.end() :]
        return line

    def collect_enums(self, masked: list[str]) -> None:
        text = "\n".join(masked)
        depth_at: list[int] = []
        depth = 0
        for char in text:
            depth_at.append(depth)
            depth += 1 if char == "{" else -1 if char == "}" else 0
        for match in ENUM_RE.finditer(text):
            number = text.count("\n", 0, match.start()) + 1
            members: list[str] = []
            items = split_top_level(match.group("body"))
            for position, item in enumerate(items):
                if not item.strip() and position == len(items) - 1:
                    continue
                enumerator = ENUMERATOR_RE.match(item)
                if enumerator is None:
                    self.error(number, f"malformed enumerator in enum {match.group('name')}: '{item.strip()}'")
                    continue
                members.append(enumerator.group("name"))
            enum = EnumType(match.group("name"), tuple(members))
            self.source.enums.append(enum)
            if depth_at[match.start()] == 0 and members:
                self.add_enum_to_string(enum, text.count("\n", 0, match.end()))

    def add_enum_to_string(self, enum: EnumType, line_index: int) -> None:
        # Appended after the enum's closing "};" on the same line, so no line moves.
        # An if-chain, not a switch: enumerators may share a value, and the first name wins.
        names = " ".join(f'if (value == {member}) return "{member}";' for member in enum.members)
        self.source.lines[line_index] += (
            f" inline string EnumToString({enum.name} value) {{ {names}"
            f' return string("{enum.name}::") + IntegerToString((long)value); }}'
        )


def input_setter(inputs: list[InputVariable], enums: dict[str, EnumType], program: str) -> list[str]:
    """C++ appended to the expert: set any input from text, and list the inputs."""
    body: list[str] = []
    for variable in inputs:
        name, type_name = variable.name, variable.type_name
        if type_name in INTEGER_INPUTS:
            low, high = INTEGER_INPUTS[type_name]
            assign = f"{name} = ({type_name})mql_detail::input_integer(name, value, {low}, {high});"
        elif type_name in UNSIGNED_INPUTS:
            assign = f"{name} = ({type_name})mql_detail::input_unsigned(name, value, {UNSIGNED_INPUTS[type_name]});"
        elif type_name in ("double", "float"):
            assign = f"{name} = ({type_name})mql_detail::input_double(name, value);"
        elif type_name == "bool":
            assign = f"{name} = mql_detail::input_bool(name, value);"
        elif type_name == "string":
            assign = f"{name} = string::from_utf8(value);"
        else:
            members = enums[type_name].members
            choices = " ".join(f'if (value == "{member}") {{ {name} = {member}; return; }}' for member in members)
            assign = f'{choices} mql_detail::bad_input(name, value, "one of {", ".join(members)}");'
        body.append(f'    if (name == "{name}") {{ {assign} return; }}')
    names = ", ".join(f'"{variable.name}"' for variable in inputs)
    return [
        "",
        '#line 1 "<input setter generated by tests/ea/translate.py>"',
        f'const char *__csmc_program_name() {{ return "{program}"; }}',
        "void __csmc_set_input(const std::string &name, const std::string &value) {",
        *body,
        '    throw std::invalid_argument("input " + name + ": the EA has no input of that name");',
        "}",
        f"std::vector<std::string> __csmc_input_names() {{ return {{{names}}}; }}",
    ]


def resolve_include(root: Path, including: Path, delimiter: str, target: str) -> Path | None:
    candidates = [root / "Include" / target]
    if delimiter == '"':
        candidates.insert(0, (root / including).parent / target)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def case_mismatch(root: Path, including: Path, delimiter: str, target: str) -> str | None:
    """The on-disk spelling of an include that only exists in another letter case (Windows would find it)."""
    bases = [root / "Include"] + ([(root / including).parent] if delimiter == '"' else [])
    for base in bases:
        current = base
        parts = []
        for part in Path(target).parts:
            if not current.is_dir():
                break
            match = next((entry.name for entry in current.iterdir() if entry.name.lower() == part.lower()), None)
            if match is None:
                break
            parts.append(match)
            current = current / match
        else:
            if current.is_file():
                return "/".join(parts)
    return None


def translate_tree(root: Path, out: Path, expert: Path | None = None) -> Translation:
    """Translate every .mq5/.mqh under root into out; the expert (relative to root) gets the input setter."""
    root = root.resolve()
    files: dict[Path, SourceFile] = {}
    errors: list[TranslationError] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()):
        relative = path.relative_to(root)
        source = SourceFile(relative, shown(path), read_source(path))
        problem = encoding_problem(path, source.lines)
        if problem is not None:
            errors.append(TranslationError(source.shown_path, *problem))
        translator = FileTranslator(source)
        translator.run()
        errors += translator.errors
        files[relative] = source

    enums: dict[str, EnumType] = {}
    for source in files.values():
        for enum in source.enums:
            enums.setdefault(enum.name, enum)

    inputs: list[InputVariable] = []
    if expert is not None:
        if expert not in files:
            errors.append(TranslationError(shown(root / expert), 1, "the expert's source file does not exist"))
        else:
            inputs = expert_inputs(root, files, expert, errors)
            for variable in inputs:
                if variable.type_name not in enums and variable.type_name not in (
                    INTEGER_INPUTS.keys() | UNSIGNED_INPUTS.keys() | OTHER_INPUTS
                ):
                    errors.append(
                        TranslationError(
                            variable.shown_path,
                            variable.line,
                            f"input type '{variable.type_name}' is not supported (use a number type, bool, "
                            "string, datetime, color or an enum defined in the sources)",
                        )
                    )
    errors.sort(key=lambda e: (e.shown_path, e.line))
    translation = Translation(files, inputs, enums, errors)
    if not errors:
        write_output(translation, out, expert)
    return translation


def expert_inputs(
    root: Path, files: dict[Path, SourceFile], expert: Path, errors: list[TranslationError]
) -> list[InputVariable]:
    """Inputs of the expert and of every file it includes, in inclusion order (each file once, as MQL5 does)."""
    inputs: list[InputVariable] = []
    seen: set[Path] = set()

    def visit(relative: Path) -> None:
        if relative in seen:
            return
        seen.add(relative)
        source = files[relative]
        pending_inputs = list(source.inputs)
        for number, delimiter, target in source.includes:
            while pending_inputs and pending_inputs[0].line < number:
                inputs.append(pending_inputs.pop(0))
            found = resolve_include(root, relative, delimiter, target)
            if found is None:
                spelling = case_mismatch(root, relative, delimiter, target)
                if spelling is not None:
                    errors.append(
                        TranslationError(
                            source.shown_path,
                            number,
                            f"#include '{target}' matches '{spelling}' only ignoring case: "
                            "spell it as on disk (file names are case-sensitive here)",
                        )
                    )
                continue  # a missing include is reported by the compiler, at this line
            found_relative = found.resolve().relative_to(root)
            if found_relative in files:
                visit(found_relative)
        inputs.extend(pending_inputs)

    visit(expert)
    return inputs


def escaped(path: str) -> str:
    return path.replace("\\", "\\\\").replace('"', '\\"')


def write_output(translation: Translation, out: Path, expert: Path | None) -> None:
    prepare_output(out)
    for relative, source in translation.files.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # An MQL5 file is included once however often it is named; the #line directive makes every
        # compiler message name the original file and line.
        header = ["#pragma once"] if relative.suffix == ".mqh" else []
        header.append(f'#line 1 "{escaped(source.shown_path)}"')
        lines = header + source.lines
        if relative == expert:
            lines += input_setter(translation.inputs, translation.enums, relative.stem)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def prepare_output(out: Path) -> None:
    if out.exists():
        if not (out / OUTPUT_MARKER).exists() and any(out.iterdir()):
            raise SystemExit(f"translate: {out} is not empty and was not written by this tool; refusing to clear it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / OUTPUT_MARKER).write_text("translated MQL5 sources; the whole directory is rewritten on every build\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Translate MQL5 sources into C++ for the EA test harness.")
    parser.add_argument("--mql5-root", type=Path, default=REPO_ROOT / "mql5", help="the MQL5 tree (default: mql5/)")
    parser.add_argument("--out", type=Path, required=True, help="output directory (rewritten entirely)")
    parser.add_argument("--expert", type=Path, help="the expert's .mq5, relative to the MQL5 tree")
    args = parser.parse_args(argv)
    if not args.mql5_root.is_dir():
        print(f"translate: {args.mql5_root} is not a directory", file=sys.stderr)
        return 2
    translation = translate_tree(args.mql5_root, args.out, args.expert)
    for error in translation.errors:
        print(error, file=sys.stderr)
    if translation.errors:
        return 1
    print(f"translated {len(translation.files)} files into {os.fspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
