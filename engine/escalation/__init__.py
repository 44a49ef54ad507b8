"""Dose escalation: designs compiled to the rule network, and everything around a decision.

`network` compiles a protocol's escalation rules and decides the next dose for a cohort file
(`cohort` reads and counts it); `report` explains a decision and writes its trail records;
`boin` (with `beta`), `tite` and `interval_designs` are the designs' own numbers; `simulate`,
`tite_simulate`, `compare` and `pathways` run the network over simulated trials and outcome
strings; `deviations` reads where a trial did not do what its design said; `commands` are the
command-line commands that simulate.
"""
