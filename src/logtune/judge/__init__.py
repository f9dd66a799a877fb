"""The judge (issue #17): a second opinion on replies that rules cannot give, and how far to trust it.

Three questions, one interface (`core.Judge`), three providers: `offline` (a deterministic rule-based
stand-in, named as such in every output: the default run needs no key and no network), `anthropic`
(Claude through `logtune.llm`, every answer cached by content hash) and `local` (a transformers model
from a path). Modules: `params` (the `judge` section), `offline` (the stand-in's rules), `prompts`
(what an LLM judge is asked and how its answer is read), `core` (pairwise with position swapping,
pointwise similarity, data quality), `agreement` (the judge vs human thumbs, with a confidence interval
and a chance baseline). Ground floor: evaluate, curate, best-of-n and the judge stage all use it.
"""
