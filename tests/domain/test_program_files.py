"""program.yaml that is not just wrong but hostile: every case is a ProgramError, one line per
problem, with the line or key path to look at (cases found by fuzzing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from domain.program import (
    ProgramError,
    ProgramFileError,
    check_program,
    load_program,
    parse_program,
    preset_text,
)
from domain.program_yaml import MAX_DEPTH, MAX_VALUES

SAAS = preset_text("saas")


def saas_with(old: str, new: str) -> str:
    assert SAAS.count(old) >= 1, old
    return SAAS.replace(old, new, 1)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_a_list_where_a_stage_belongs_names_the_key() -> None:
    text = saas_with("qualifying_stage: first_payment", "qualifying_stage: [first_payment]")
    errors = check_program(text)
    assert errors[0].startswith("rewards[0].qualifying_stage: must be one of introduction, ")
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1" + "0" * 5000, "is not a valid int"),
        ("2026-02-30", "'2026-02-30' is not a valid timestamp (day is out of range for month)"),
        ("!!bool maybe", "'maybe' is not a valid bool"),
        ("!!float many", "'many' is not a valid float"),
        ("!!timestamp soon", "'soon' is not a valid timestamp"),
    ],
)
def test_values_yaml_cannot_build_are_named_by_line(value: str, message: str) -> None:
    text = saas_with("delay_days: 30", f"delay_days: {value}")
    (error,) = check_program(text)
    assert error.startswith(f"line {line_of(text, 'delay_days: ' + value[:5])}, column 17: ")
    assert message in error


def test_forbidden_characters_are_named_by_line_and_column() -> None:
    assert check_program("version: 1\nname: a\x00b\n") == [
        "line 2, column 8: contains a NUL character"
    ]
    assert check_program("name: \x07\n") == [
        "line 1, column 7: contains the character U+0007, which YAML forbids"
    ]


def test_deep_nesting_is_refused_before_anything_is_built() -> None:
    just_too_deep = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH
    beyond_the_parser = "a: " + "[" * 50_000
    assert check_program(just_too_deep) == [f"line 1: nested more than {MAX_DEPTH} levels deep"]
    assert check_program(beyond_the_parser) == [f"nested more than {MAX_DEPTH} levels deep"]


def test_alias_bombs_and_self_references_are_refused() -> None:
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = "\n".join(levels) + "\nreferrer_types: *l8\n"
    assert check_program(bomb) == [
        f"expands to more than {MAX_VALUES} values through aliases (*name); write it out"
    ]
    assert check_program("a: &a [1, *a]\n") == [
        "line 1: an alias refers to a value that contains it"
    ]


def test_a_shared_anchor_used_a_few_times_is_fine() -> None:
    text = saas_with("version: 1", "version: &one 1\nx_unused: [*one, *one]")
    assert check_program(text) == ["x_unused: unknown key"]


def test_a_template_nested_too_deeply_for_jinja_is_a_problem_of_its_key() -> None:
    data = yaml.safe_load(SAAS)
    data["templates"]["ask_script"] = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    assert check_program(yaml.safe_dump(data)) == [
        "templates.ask_script: is nested too deeply to compile"
    ]


def test_odd_keys_are_quoted_in_the_path_and_every_error_is_one_line() -> None:
    data = yaml.safe_load(SAAS)
    data["triggers"]["nps\nscore"] = 1
    data["stage_map"]["stages"]["Closed Won"] = "won"
    errors = check_program(yaml.safe_dump(data))
    assert "triggers['nps\\nscore']: unknown key" in errors
    assert any(e.startswith("stage_map.stages['Closed Won']: must be one of ") for e in errors)
    assert all("\n" not in e for e in errors)


def test_parse_program_only_ever_raises_program_error() -> None:
    for text in [
        "",
        "[",
        "- a",
        "a: b: c",
        "!!python/object:os.system {}",
        "\ufeff{",
        "? [a]\n: b",
    ]:
        with pytest.raises(ProgramError):
            parse_program(text)


# --- files ---------------------------------------------------------------------------------


def test_a_latin1_file_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_bytes(SAAS.replace("name: ", "name: Caf\xe9 ", 1).encode("latin-1"))
    with pytest.raises(ProgramFileError) as caught:
        load_program(path)
    line = line_of(SAAS, "name: ")
    assert caught.value.errors == [f"{path}: is not UTF-8 text (line {line}); save it as UTF-8"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "is a directory, not a YAML file"),
        (lambda p: p.write_bytes(b"#" * 1_000_001), "is larger than 1 MB; is it the right file?"),
        (lambda p: None, "file not found"),
    ],
)
def test_files_that_cannot_be_read_as_text(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "program.yaml"
    make(path)
    with pytest.raises(ProgramFileError) as caught:
        load_program(path)
    assert caught.value.errors == [f"{path}: {message}"]


def test_a_nul_in_the_file_name_is_a_program_error(tmp_path: Path) -> None:
    with pytest.raises(ProgramFileError, match="is not a valid file name"):
        load_program(tmp_path / "pro\x00gram.yaml")
