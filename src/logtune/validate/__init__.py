"""Data-quality gates before training: Great Expectations suites and JSON Schemas on built sets.

`features` flattens each training record into one row of facts, `contracts` checks records
against `schemas/*.schema.json`, `suites` loads `expectations/*.json` into real GX suites and runs
them, `gates` puts it together for the validate stage (metrics, failure lines, report), and
`dataset` is `logtune validate-dataset` (one JSONL/Parquet file checked the same way).
"""
