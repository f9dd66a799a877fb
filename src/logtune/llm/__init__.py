"""Asking an LLM, shared by the stages that do (rewrite, the judge): providers `offline` / `anthropic` / `local`,
the Anthropic client with retries and Message Batches, and the response cache keyed by content hash."""
