"""Bytes from outside, checked before anything uses them: request bodies under size limits, image bytes
against Custom Vision's formats and limits, image URLs fetched under the SSRF rules."""
