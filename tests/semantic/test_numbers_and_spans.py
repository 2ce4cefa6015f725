"""Number reading / writing and answer-span finding."""

from __future__ import annotations

from fractions import Fraction

import pytest

from semcal_jax.semantic import numbers, spans, text_norm


@pytest.mark.parametrize("text, values", [
    ("$1,234.50", ["1234.5"]),
    ("1/2 cup", ["0.5"]),
    ("1 1/2 cups and 1½ more", ["1.5", "1.5"]),
    ("−7 and -3", ["-7", "-3"]),
    ("200,000-130,000=70,000", ["200000", "130000", "70000"]),
    ("23 - 9 = 14", ["23", "9", "14"]),
    ("It takes 2 and a half bolts.", ["2.5"]),
    ("18.0 or .5 or 25%", ["18", "0.5", "25"]),
    ("1.5 million people", ["1500000"]),
    ("1,2,3", ["1", "2", "3"]),
    ("x2 has no number", []),
    ("1/3 of it", ["1/3"]),
])
def test_find_digits(text, values):
  assert [numbers.format_number(n.value) for n in numbers.find_digits(text)] == values


@pytest.mark.parametrize("text, values", [
    ("eighteen dollars", ["18"]),
    ("twenty-five apples and one hundred and five pears", ["25", "105"]),
    ("half a cup", ["0.5"]),
    ("One half cup.", ["0.5"]),
    ("two thirds of a dozen", ["2/3", "12"]),
    ("two and a half hours", ["2.5"]),
    ("a dozen eggs", ["12"]),
    ("the third day", []),
    ("three and four", ["3", "4"]),
])
def test_find_words(text, values):
  assert [numbers.format_number(n.value) for n in numbers.find_words(text)] == values


def test_find_numbers_prefers_digits_and_scale_can_be_off():
  assert [n.value for n in numbers.find_numbers("three is 3")] == [3]
  assert [n.value for n in numbers.find_numbers("$4 million", scale=False)] == [4]


@pytest.mark.parametrize("value, text", [(Fraction(18), "18"), (Fraction(-1, 4), "-0.25"),
                                         (Fraction(1, 3), "1/3"), (Fraction(2469, 2), "1234.5"),
                                         (Fraction(1, 1024), "0.0009765625")])
def test_format_number(value, text):
  assert numbers.format_number(value) == text


def test_clean_cuts_the_next_few_shot_turn_and_end_tokens():
  assert spans.clean(" Paris\n\nQuestion: What is") == "Paris"
  assert spans.clean("**Mars**<|im_end|>junk") == "Mars"
  assert spans.clean("Question: only a question") == "Question: only a question"
  assert spans.clean(None) == ""


def test_answer_span_takes_the_last_marker_or_box():
  assert spans.answer_span("So 3. The answer is 7. Then")[0] == "7"
  assert spans.answer_span("x\n#### 1,234")[0] == "1,234"
  assert spans.answer_span("Answer:\n42") == ("42", "marker")
  assert spans.answer_span(r"so $\boxed{\frac{1}{2}}$.") == (r"\frac{1}{2}", "boxed")
  assert spans.answer_span(r"x = \boxed{2} or x = \boxed{3}.")[0] == "2, 3"
  assert spans.answer_span(r"We get \boxed{5}. Check: our answer is correct.")[0] == "5"
  assert spans.answer_span(r"\boxed{5}. The final answer is positive.", prefer_boxed=True)[0] == "5"
  assert spans.answer_span("I would answer this quickly") is None


def test_sentences_keep_initials_decimals_and_math_together():
  assert spans.sentences("It was J.R.R. Tolkien. He wrote 2.5 books. $x = 1.5$. Done") == [
      "It was J.R.R. Tolkien.", "He wrote 2.5 books.", "$x = 1.5$.", "Done"]
  assert spans.first_sentence("Sure! Great question! It is Paris.") == "It is Paris."


@pytest.mark.parametrize("text, out", [
    ("not Henry V, it's Henry IV", "Henry IV"),
    ("Canberra, not Sydney", "Canberra"),
    ("not $1,234, it's $1,234.50", "$1,234.50"),
    ("not Lyon but Paris", "Paris"),
    ("Paris", "Paris"),
])
def test_remove_negations(text, out):
  assert spans.remove_negations(text) == out


def test_abstentions():
  for text in ("I don't know", "I'm not sure.", "I cannot answer that", "No idea"):
    assert spans.is_abstention(text), text
  assert not spans.is_abstention("Knotty pine")


def test_squad_normalisation():
  assert text_norm.normalize("The  Beatles!") == "beatles"
  assert text_norm.normalize("J.R.R. Tolkien") == text_norm.normalize("J. R. R. Tolkien")
  assert text_norm.normalize("Pelé's") == "peles"
  assert text_norm.normalize("Self-raising flour") == "self raising flour"
  assert text_norm.contains(["a", "b", "c"], ["b", "c"]) == 1
  assert text_norm.contains(["a", "b"], ["c"]) == -1


def test_numbers_beyond_max_digits_are_not_read():
  long = "7" * (numbers.MAX_DIGITS + 1)
  assert [n.value for n in numbers.find_digits(f"It is {long}, or 12.")] == [12]
  assert numbers.find_digits("7" * numbers.MAX_DIGITS)[0].value == int("7" * numbers.MAX_DIGITS)
