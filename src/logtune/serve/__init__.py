"""The collection service (`logtune serve`): seed 003's logging API, an OpenAI-compatible logging proxy and the
loop's control panel (dataset and workflow jobs, retention, monitoring), over one store.

Modules:
  writer     the group-commit writer over `logtune.store` (the store's layout and migrations live on the
             ground floor, `logtune/store.py`: the export stage's `serve_store` source reads it too)
  auth       scoped API keys (write / read / admin), stored hashed, compared in constant time; rate limits
  models     the request bodies (strict: unknown field, wrong type or over-long field is a 422 naming it)
  proxy      `POST /v1/chat/completions` forwarded to an upstream model server, streamed back unchanged
  retention  what to delete (age per task type), never a row a committed training set references unsaid
  stats      monitoring from the store (seed 003's and seed 000's thresholds, split by model and prompt
             version) and the Prometheus text exposition
  jobs       `dvc repro` / `dvc exp run` as queued background jobs, one at a time, persisted in the store
  app        the FastAPI application wiring them together; `run` starts it on uvicorn
Not for training or curation: the service only collects and hands the store to the pipeline.
"""
