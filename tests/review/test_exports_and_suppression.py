"""Spreadsheet-safe CSV cells and small-group suppression, as plain functions."""

from __future__ import annotations

import pytest

from review.exports import csv_line, neutralise
from review.suppression import rate, suppress_table


@pytest.mark.parametrize("value", ["=1+1", "+44 20", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_cells_a_spreadsheet_would_run_get_a_leading_apostrophe(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Ada", "a=b", "", "12", "2026-01-01"])
def test_ordinary_cells_are_left_alone(value: str) -> None:
    assert neutralise(value) == value


def test_negative_numbers_from_the_database_are_text_too_but_lists_and_none_are_safe() -> None:
    assert neutralise(None) == ""
    assert neutralise(["A", "B"]) == "A;B"
    assert neutralise(["=A"]) == "'=A"
    assert csv_line(["=x", 'say "hi"']) == '\'=x,"say ""hi"""\r\n'


def test_a_count_under_ten_is_hidden_and_one_more_so_the_total_cannot_reveal_it() -> None:
    table = suppress_table([[50, 3], [40, 20]])
    (a, b, row1), (c, d, row2), (col1, col2, grand) = table
    assert b is None  # 3: primary
    assert a is None or row1 is None  # the row can't give 3 back by subtraction
    assert col2 is None or d is None  # nor can the column
    visible_in_row = [v for v in (a, b, row1) if v is None]
    assert len(visible_in_row) != 1
    for line in ([a, b, row1], [c, d, row2], [col1, col2, grand], [a, c, col1], [b, d, col2], [row1, row2, grand]):
        assert sum(v is None for v in line) != 1, line


def test_a_table_with_no_small_counts_is_published_whole() -> None:
    assert suppress_table([[10, 20], [30, 40]]) == [[10, 20, 30], [30, 40, 70], [40, 60, 100]]


def test_zero_is_not_a_small_count() -> None:
    assert suppress_table([[0, 15]]) == [[0, 15, 15], [0, 15, 15]]


def test_rates_from_hidden_or_small_bases_are_hidden() -> None:
    assert rate(None, 100) is None
    assert rate(5, 9) is None
    assert rate(5, 20) == 0.25
