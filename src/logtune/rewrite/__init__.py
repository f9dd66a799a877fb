"""LLM-assisted data between build and mix: rewrites, refusals, better answers for down-votes, personas.

Seeds 000, 001 and 002 lean on a strong LLM to shape training data; this package is that step, with a
paid API's safety rails. Modules: `params` (the `rewrite` section), `templates` (prompts/<task>.txt,
versioned by hash), `tasks` (what each task reads, asks and makes), `offline` (the rule-based default
provider's answers), `checks` (what every generated record must pass), `cost` (prices and estimates),
`pipeline` (the stage's logic and the dry run), `cli` (`logtune rewrite --dry-run`).
Not for training or evaluation, and nothing here reads the API key except `logtune.llm.providers.api_key`.
The providers, the Anthropic client and the response cache live on the ground floor in `logtune.llm`
(the judge uses them too).
"""

from logtune.rewrite.params import RewriteParams
from logtune.rewrite.pipeline import Rewritten, dry_run, rewrite

__all__ = ["RewriteParams", "Rewritten", "dry_run", "rewrite"]
