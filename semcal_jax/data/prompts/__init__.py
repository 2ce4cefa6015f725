"""Few-shot prompts in three response styles (concise, sentence, cot), base or chat format.

    from semcal_jax.data import prompts
    cfg = prompts.default_config()          # ml_collections.ConfigDict; see prompts.config
    cfg.style = "sentence"
    p = prompts.Prompter(cfg, dataset="trivia_qa").render(question)
    p.text, p.stop, p.max_new_tokens
"""

from semcal_jax.data.prompts.config import FORMATS, SOURCES, STYLES, default_config, validate
from semcal_jax.data.prompts.exemplars import FAMILIES, FIXED, Exemplar, family, from_questions
from semcal_jax.data.prompts.render import Prompt, Prompter, render, stop_and_budget

__all__ = ["FAMILIES", "FIXED", "FORMATS", "SOURCES", "STYLES", "Exemplar", "Prompt", "Prompter",
           "default_config", "family", "from_questions", "render", "stop_and_budget", "validate"]
