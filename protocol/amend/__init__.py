"""Amendments: how two versions of a protocol differ (`diff`), in the words a rescreen report and
an amendment summary use (`wording`). Deciding patients again under the amendment needs the
engine: that is `engine.rescreen`, above this package.
"""
