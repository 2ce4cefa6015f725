"""Labelled responses for the `numeric` rule (GSM8K, SVAMP, OpenMathInstruct-2)."""

from __future__ import annotations

from tests.semantic.labelled.case import Case, case as _case

CASES: tuple[Case, ...] = (
    _case("gsm-ducks", "numeric", "gsm8k", "concise",
          "Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every morning "
          "and bakes muffins for her friends every day with four. She sells the remainder at the "
          "farmers' market daily for $2 per fresh duck egg. How much in dollars does she make "
          "every day at the farmers' market?",
          ["18"],
          [(" 18", "A"),
           (" $18", "A"),
           (" 18 dollars", "A"),
           (" $18.00", "A"),
           (" 18.0", "A"),
           (" 18\n\nQuestion: A robe takes 2 bolts of blue fiber", "A"),
           (" 26", "B"),
           (" $26", "B"),
           (" 9", "C"),
           (" 9 * 2 = 18", "A"),
           (" eighteen dollars", "A"),
           ("", None),
           (" $", None)]),
    _case("gsm-house", "numeric", "gsm8k", "cot",
          "Josh decides to try flipping a house.  He buys a house for $80,000 and then puts in "
          "$50,000 in repairs.  This increased the value of the house by 150%.  How much profit "
          "did he make?",
          ["70000"],
          [(" The cost of the house and repairs came out to 80,000+50,000=$130,000\nHe increased "
            "the value of the house by 80,000*1.5=120,000\nSo the new value of the house is "
            "120,000+80,000=$200,000\nSo he made a profit of 200,000-130,000=$70,000\n#### 70000",
            "A"),
           (" Josh spent 80000 + 50000 = <<80000+50000=130000>>130000 dollars.\nThe value "
            "increased by 150%, so the house is worth 80000 * 2.5 = <<80000*2.5=200000>>200000.\n"
            "His profit is 200000 - 130000 = <<200000-130000=70000>>70000.\n#### 70000", "A"),
           (" He spent $130,000 in total. The house is now worth 150% of $130,000 = $195,000. "
            "The profit is $195,000 - $130,000 = $65,000. The answer is 65000.", "B"),
           (" Total cost = 80,000 + 50,000 = 130,000. New value = 130,000 * 1.5 = 195,000. "
            "Profit = 195,000 - 130,000 = 65,000.\nThe answer is $65,000.", "B"),
           (" The house is worth 80,000 * 1.5 = 120,000 more. 120,000 - 50,000 = 70,000. So the "
            "answer is $70,000.", "A"),
           (" 80000 + 50000 = 130000. 130000 * 1.5 = 195000. So he made $195,000 - $130,000 = "
            "$65,000 profit.", "B"),
           (" Let's compute. The profit is not $120,000, because we must subtract the costs: "
            "200,000 - 130,000 = 70,000.\n#### 70,000", "A"),
           (" The new value is 80,000 + 120,000 = 200,000. Profit = 200,000 - 130,000 = 70,000 "
            "dollars.\nAnswer: 70000", "A"),
           (" #### 70000", "A"),
           (" He made 200,000 - 130,000 = \\boxed{70,000} dollars.", "A")]),
    _case("gsm-robe", "numeric", "gsm8k", "sentence",
          "A robe takes 2 bolts of blue fiber and half that much white fiber.  How many bolts in "
          "total does it take?",
          ["3"],
          [("It takes 3 bolts in total.", "A"),
           ("The robe takes 3 bolts of fiber in total.", "A"),
           ("It takes 2 + 1 = 3 bolts in total.", "A"),
           ("A robe takes three bolts in total.", "A"),
           ("It takes 2 bolts of blue fiber and 1 bolt of white fiber, so 3 bolts in total.",
            "A"),
           ("It takes 4 bolts in total.", "B"),
           ("The robe needs 2.5 bolts in total.", "C"),
           ("It takes 2 and a half bolts.", "C"),
           ("In total, it takes 3 bolts.", "A"),
           ("The answer is 3.", "A")]),
    _case("gsm-carla", "numeric", "gsm8k", "concise",
          "Carla is downloading a 200 GB file. Normally she can download 2 GB/minute, but 40% "
          "of the way through the download, Windows forces a restart to install updates, which "
          "takes 20 minutes. Then Carla has to restart the download from the beginning. How "
          "load does it take to download the file?",
          ["160"],
          [("160 minutes", "A"),
           ("**160 minutes**", "A"),
           ("It takes 160 minutes.", "A"),
           ("160 min.", "A"),
           ("100 minutes", "B"),
           ("The answer is 100.", "B"),
           ("120", "C"),
           ("Answer: 160", "A"),
           ("I need more information to answer this.", None)]),
    _case("gsm-shirts", "numeric", "gsm8k", "concise",
          "A store sold 823 shirts at $1.50 each. How much money did the store make?",
          ["1234.5"],
          [("$1,234.50", "A"),
           ("1234.5", "A"),
           ("$1234.50", "A"),
           ("1,234.5 dollars", "A"),
           ("The store made $1,234.50.", "A"),
           ("1234.50\n", "A"),
           ("$1,234", "B"),
           ("1,234.05", "C"),
           ("The answer is not $1,234, it's $1,234.50.", "A")]),
    _case("omi-sugar", "numeric", "openmathinstruct2", "concise",
          "A recipe needs 1 cup of sugar for 2 batches of cookies. How many cups of sugar are "
          "needed for one batch?",
          ["0.5"],
          [("1/2 cup", "A"),
           ("0.5 cups", "A"),
           ("\u00bd cup", "A"),
           ("half a cup", "A"),
           ("1/2", "A"),
           ("2 cups", "B"),
           ("One half cup.", "A"),
           ("The answer is 1/2.", "A"),
           ("0.50", "A"),
           (".5 cup", "A"),
           ("1 cup", "C")]),
    _case("svamp-robin", "numeric", "svamp", "concise",
          "Robin's hair was 16 inches long. He cut off 11 inches. Then it again grew by 12 "
          "inches. How long is his hair now?",
          ["17"],
          [(" 17", "A"),
           (" 17 inches", "A"),
           (" 17.0", "A"),
           (" 17 inches long", "A"),
           (" 5", "B"),
           (" 5 inches", "B"),
           (" -7", "C"),
           (" \u22127 inches", "C"),
           (" 39", "D"),
           (" 17 inches.\nQuestion: Paul got a box of some crayons", "A")]),
    _case("svamp-marbles", "numeric", "svamp", "cot",
          "Josh had 15 marbles in his collection. He found 9 marbles while he lost 23 marbles. "
          "How many more marbles did he lose than those he found?",
          ["14"],
          [(" He lost 23 marbles and found 9, so he lost 23 - 9 = 14 more. The answer is 14.",
            "A"),
           (" 23 - 9 = 14. The answer is 14.", "A"),
           (" He found 9 and lost 23. 23 - 9 = 14.", "A"),
           (" He lost 23 - 9 = 14 more marbles than he found.\n#### 14", "A"),
           (" 15 + 9 - 23 = 1. The answer is 1.", "B"),
           (" He has 15 + 9 - 23 = 1 marble left. So the answer is 1 marble.", "B"),
           (" 23 + 9 = 32. The answer is 32.", "C"),
           (" The answer is -14.", "D"),
           (" He lost 23 marbles and found 9. The answer is 14 or 32.", "E"),
           (" The difference could be 14 or 32, depending on how you count. The answer is either "
            "14 or 32.", "E"),
           (" The answer is 32 or 14.", "E")]),
    _case("omi-divisors", "numeric", "openmathinstruct2", "cot",
          "What is the sum of all positive divisors of 12?",
          ["28"],
          [(" The divisors of 12 are 1, 2, 3, 4, 6 and 12. Their sum is 1 + 2 + 3 + 4 + 6 + 12 = "
            "28. The answer is \\boxed{28}.", "A"),
           (" 1+2+3+4+6+12 = \\boxed{28}", "A"),
           (" Divisors: 1, 2, 3, 4, 6, 12. Sum = 28.", "A"),
           (" The positive divisors are 1, 2, 3, 4, 6, 12, so the sum is $\\boxed{28}$.", "A"),
           (" The divisors of 12 are 2, 3, 4, 6, so the sum is 15. \\boxed{15}", "B"),
           (" 1 + 2 + 3 + 4 + 6 = 16, so the answer is 16.", "C"),
           (" The sum of divisors is 28.\n\nQuestion: What is the", "A")]),
)
