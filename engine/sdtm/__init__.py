"""CDISC SDTM datasets of eligibility: the TI domain from a protocol, the IE domain from a run's
decision trail (`domains`), checked against the implementation guide's rules for them (`ig`),
written as SAS transport v5, CSV and a define-style description (`files`).
"""
