"""Few-shot exemplars: hand-written lists per family, or questions of a train split.

Each `Exemplar` answers its question in all three styles. The fixed lists
were written for this project (not taken from any evaluation set); the
prompt renderer still skips any exemplar whose id or normalised text equals
the question being asked.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from semcal_jax.data import question as question_lib

FAMILIES = {"trivia_qa": "trivia", "nq_open": "trivia", "simple_qa": "trivia",
            "truthful_qa": "trivia", "gsm8k": "arithmetic", "svamp": "arithmetic",
            "math": "math", "math500": "math", "openmathinstruct2": "math"}


@dataclasses.dataclass(frozen=True)
class Exemplar:
  """A question with its answer in each style (None: not available in that style)."""
  id: str
  question: str
  concise: str
  sentence: str | None
  cot: str | None

  def answer(self, style: str) -> str:
    """The answer in `style` (ValueError when this exemplar has none)."""
    text = getattr(self, style)
    if text is None:
      raise ValueError(f"exemplar {self.id}: no {style!r} answer (a train-split question "
                       "without a worked solution); use exemplars.source='fixed'")
    return text


def family(dataset: str) -> str:
  """The exemplar family of a data set name ("trivia", "arithmetic", "math")."""
  if dataset not in FAMILIES:
    raise KeyError(f"no exemplar family for data set {dataset!r}; known: {sorted(FAMILIES)}")
  return FAMILIES[dataset]


def _ex(fam, i, q, concise, sentence, cot):
  return Exemplar(f"fixed-{fam}-{i}", q, concise, sentence, cot)


FIXED: dict[str, tuple[Exemplar, ...]] = {
    "trivia": (
        _ex("trivia", 1, "What is the capital of Australia?", "Canberra",
            "The capital of Australia is Canberra.",
            "Sydney is Australia's largest city, but the capital was built as a compromise "
            "between Sydney and Melbourne. The answer is Canberra."),
        _ex("trivia", 2, "Who wrote the novel Pride and Prejudice?", "Jane Austen",
            "Pride and Prejudice was written by Jane Austen.",
            "Pride and Prejudice was published in 1813 by the English novelist who also wrote "
            "Emma and Sense and Sensibility. The answer is Jane Austen."),
        _ex("trivia", 3, "Which planet is known as the Red Planet?", "Mars",
            "The planet known as the Red Planet is Mars.",
            "The red colour comes from iron oxide on the surface of the fourth planet from the "
            "Sun. The answer is Mars."),
        _ex("trivia", 4, "What is the chemical symbol for gold?", "Au",
            "The chemical symbol for gold is Au.",
            "The symbol comes from gold's Latin name, aurum. The answer is Au."),
        _ex("trivia", 5, "In which year did the Berlin Wall fall?", "1989",
            "The Berlin Wall fell in 1989.",
            "The wall was opened in November, during the revolutions that swept Eastern Europe "
            "that year. The answer is 1989."),
        _ex("trivia", 6, "Which is the largest ocean on Earth?", "The Pacific Ocean",
            "The largest ocean on Earth is the Pacific Ocean.",
            "The Pacific covers about a third of the Earth's surface, more than the Atlantic or "
            "the Indian Ocean. The answer is the Pacific Ocean."),
        _ex("trivia", 7, "Who painted the Mona Lisa?", "Leonardo da Vinci",
            "The Mona Lisa was painted by Leonardo da Vinci.",
            "The Mona Lisa is an early 16th-century portrait by the Italian artist who also "
            "painted The Last Supper. The answer is Leonardo da Vinci."),
        _ex("trivia", 8, "What is the smallest prime number?", "2",
            "The smallest prime number is 2.",
            "A prime has exactly two divisors; 1 has only one, and 2 has exactly two. The answer "
            "is 2."),
    ),
    "arithmetic": (
        _ex("arithmetic", 1, "Tom has 3 boxes with 12 pencils in each box. He gives away 10 "
            "pencils. How many pencils does he have left?", "26", "Tom has 26 pencils left.",
            "Tom starts with 3 * 12 = 36 pencils. After giving away 10, he has 36 - 10 = 26 "
            "pencils. The answer is 26."),
        _ex("arithmetic", 2, "A shirt costs $15 and a pair of trousers costs twice as much. How "
            "much do a shirt and a pair of trousers cost together?", "45",
            "A shirt and a pair of trousers cost $45 together.",
            "The trousers cost 2 * 15 = 30 dollars. Together they cost 15 + 30 = 45 dollars. "
            "The answer is 45."),
        _ex("arithmetic", 3, "Maria reads 20 pages a day. How many days does she need to read a "
            "180-page book?", "9", "Maria needs 9 days to read the book.",
            "She needs 180 / 20 = 9 days. The answer is 9."),
        _ex("arithmetic", 4, "A baker made 48 cookies and sold three quarters of them. How many "
            "cookies are left?", "12", "The baker has 12 cookies left.",
            "The baker sold 48 * 3 / 4 = 36 cookies, so 48 - 36 = 12 are left. The answer is "
            "12."),
        _ex("arithmetic", 5, "A train travels at 60 miles per hour for 2.5 hours. How far does "
            "it travel in miles?", "150", "The train travels 150 miles.",
            "Distance is speed times time: 60 * 2.5 = 150 miles. The answer is 150."),
        _ex("arithmetic", 6, "Sam had 50 stickers. He bought 3 packs of 8 stickers and then gave "
            "14 to his sister. How many stickers does Sam have now?", "60",
            "Sam has 60 stickers now.",
            "He bought 3 * 8 = 24 stickers, so he had 50 + 24 = 74. After giving 14 away he has "
            "74 - 14 = 60. The answer is 60."),
        _ex("arithmetic", 7, "A garden is 8 meters long and 5 meters wide. What is its perimeter "
            "in meters?", "26", "The perimeter of the garden is 26 meters.",
            "The perimeter is 2 * (8 + 5) = 2 * 13 = 26 meters. The answer is 26."),
        _ex("arithmetic", 8, "Lena earns $12 an hour and works 6 hours a day for 5 days. How "
            "much does she earn in dollars?", "360", "Lena earns $360.",
            "She works 6 * 5 = 30 hours, so she earns 30 * 12 = 360 dollars. The answer is 360."),
    ),
    "math": (
        _ex("math", 1, r"What is the value of $\frac{1}{2} + \frac{1}{3}$?", r"$\frac{5}{6}$",
            r"The value of $\frac{1}{2} + \frac{1}{3}$ is $\frac{5}{6}$.",
            r"With the common denominator 6, $\frac{1}{2} + \frac{1}{3} = \frac{3}{6} + "
            r"\frac{2}{6} = \frac{5}{6}$. The final answer is $\boxed{\frac{5}{6}}$."),
        _ex("math", 2, "Solve for $x$: $3x - 7 = 11$.", "$6$", "The solution is $x = 6$.",
            r"Adding 7 to both sides gives $3x = 18$, so $x = 6$. The final answer is "
            r"$\boxed{6}$."),
        _ex("math", 3, "What is the greatest common divisor of 36 and 60?", "$12$",
            "The greatest common divisor of 36 and 60 is $12$.",
            r"$36 = 2^2 \cdot 3^2$ and $60 = 2^2 \cdot 3 \cdot 5$, so the greatest common "
            r"divisor is $2^2 \cdot 3 = 12$. The final answer is $\boxed{12}$."),
        _ex("math", 4, r"Simplify $\sqrt{50}$.", r"$5\sqrt{2}$",
            r"$\sqrt{50}$ simplifies to $5\sqrt{2}$.",
            r"$50 = 25 \cdot 2$, so $\sqrt{50} = \sqrt{25}\sqrt{2} = 5\sqrt{2}$. The final "
            r"answer is $\boxed{5\sqrt{2}}$."),
        _ex("math", 5, "How many positive divisors does 24 have?", "$8$",
            "The number 24 has $8$ positive divisors.",
            r"$24 = 2^3 \cdot 3$, so it has $(3+1)(1+1) = 8$ positive divisors. The final answer "
            r"is $\boxed{8}$."),
        _ex("math", 6, "What is the slope of the line through the points $(1, 2)$ and $(3, 8)$?",
            "$3$", "The slope of the line is $3$.",
            r"The slope is $\frac{8 - 2}{3 - 1} = \frac{6}{2} = 3$. The final answer is "
            r"$\boxed{3}$."),
        _ex("math", 7, "Find the sum of the roots of $x^2 - 5x + 4 = 0$.", "$5$",
            "The sum of the roots is $5$.",
            r"The polynomial factors as $(x - 1)(x - 4)$, so the roots are 1 and 4 and their sum "
            r"is $5$. The final answer is $\boxed{5}$."),
        _ex("math", 8, "A fair coin is flipped three times. What is the probability of getting "
            "exactly two heads?", r"$\frac{3}{8}$", r"The probability is $\frac{3}{8}$.",
            r"There are $2^3 = 8$ equally likely outcomes, and $\binom{3}{2} = 3$ of them have "
            r"exactly two heads. The final answer is $\boxed{\frac{3}{8}}$."),
    ),
}

_CALC = re.compile(r"<<[^<>]*>>")
_GSM_FINAL = re.compile(r"\n?####\s*(.+?)\s*$", re.S)


def _cot_from_solution(solution: str | None, answer: str) -> str | None:
  """A worked solution as a cot answer: GSM8K notes removed, "#### N" -> "The answer is N."."""
  if not solution:
    return None
  text = _CALC.sub("", solution).strip()
  if _GSM_FINAL.search(text):
    return _GSM_FINAL.sub("", text).rstrip() + f"\nThe answer is {answer}."
  return text


def from_questions(questions: Sequence[question_lib.Question]) -> tuple[Exemplar, ...]:
  """Exemplars from (train-split) questions: sentence "The answer is X.", cot the solution."""
  return tuple(Exemplar(id=q.id, question=q.question, concise=q.answer,
                        sentence=f"The answer is {q.answer}.",
                        cot=_cot_from_solution(q.solution, q.answer)) for q in questions)
