"""Personal data: consent and the data-subject rights (export, erasure, retention purge), redaction, the
encrypted conversation store, the key hierarchy, the audit trail and the records of processing.
"""
