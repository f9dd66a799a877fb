"""After the gate: `logtune release` promotes a gated model to release/champion (`promote`, with rollback)
and `logtune monitor` checks production logs against alert thresholds (`monitor`). Not DVC stages.
"""
