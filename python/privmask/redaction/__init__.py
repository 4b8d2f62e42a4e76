"""Redaction and export: redacting people from recordings (with a review sidecar), exports with
manifests, authorised lifts of liftable masks, the hash-chained audit log and encryption."""
