"""What an auditor reads and checks: the decision trail and everything built from it.

`trail` writes a run's hash-chained records (a decided patient's line by `decided`, its evidence
judged part by part by `evidence`, what would change an open verdict by `whynot`) and `trailfile`
lays them on disk, plain or in zstd frames with a seek table; `verify` checks the chain, `replay`
decides the facts again, `explain` renders a trail as text and `report` (with `report_pages`,
`report_index`, `report_page`, `report_source`) as HTML. Escalation trails are written by the same
`trail.Chain`.
"""
